#!/bin/sh
# Every key, in the comment form.
#
# <crontab>
#   time: 17 3 * * *
#   package: batch
#   params: --older-than 30d --match '*.log' --stamp '+%Y-%m-%d' "it's"
#   user: www-data
#   group: batch-hosts
#   lock: cleanup-all
#   timeout: 2h
#   wait: 90
#   lease: mem=2:8 FQDN_cpu=1:CPU
#   env: LANG=C.UTF-8 CLEANUP_MODE='dry run'
#   mailto: ops@example.com
#   splay: 5m
#   output: failure
#   persistent: yes
#   nice: 10
#   ionice: best-effort:7
#   rlimit: nofile=4096 core=0
#   memory_max: 2G
#   cpu_max: 150%
# </crontab>
#
# <crontab>
#   # a second entry of the same script, in another package, defaults only
#   package: reports
#   time: @weekly
# </crontab>
find /var/tmp -name '*.log' -mtime +30 -delete
