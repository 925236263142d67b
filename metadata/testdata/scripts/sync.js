#!/usr/bin/env node
// The // comment form: names, ranges, lists and steps.
//
// <crontab>
//   package: sync
//   time: 0 9-17/2 * jan-jun mon-fri
//   params: --target s3://bucket/path --dry-run
//   mailto:
// </crontab>
//
// <crontab>
//   package: sync
//   time: 30   4 1,15 * *
//   params: --full
// </crontab>
console.log("sync");
