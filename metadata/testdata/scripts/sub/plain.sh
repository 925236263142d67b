#!/bin/sh
# No METADATA here: ignored.
echo "<crontab> inside a string is not a block"
