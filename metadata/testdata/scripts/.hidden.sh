#!/bin/sh
# <crontab>
#   package: hidden
#   time: @daily
# </crontab>
