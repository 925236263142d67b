#!/bin/sh
# Entries that test the systemd units: the day-of-month/day-of-week OR
# rule (two OnCalendar= lines), a lock with characters a unit name
# escapes, $ and % in params and env, and @reboot, which gets no timer.
#
# <crontab>
#   package: odd
#   time: 0 9 1 * mon
#   lock: odd@first+job
#   params: --cost '$5' --at '%H'
#   env: GREETING='a "b" $c'
# </crontab>
#
# <crontab>
#   package: odd
#   time: @reboot
# </crontab>
echo odd
