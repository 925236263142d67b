#!/bin/sh
# A switchman-era shell script: # comments, an explicit lockname shared
# with another script, a plain entry with env and mailto, and an unknown
# tool's block.
#
# <crontab>
#   time: 5 * * * *
#   package: housekeeping
#   params: --keep 7 --stamp '+%Y-%m-%d'
#   <switchman>
#     group: logs
#     lockname: log-maintenance
#   </switchman>
# </crontab>
#
# <crontab>
#   time: @reboot
#   package: housekeeping
#   env: LANG=C VERBOSE=1
#   mailto: ops@example.org
#   params: --compress-leftovers
# </crontab>
#
# <ubic>
#   service: logrotate-watch
# </ubic>
#
# <some-inhouse-tool>
#   anything: at all
# </some-inhouse-tool>
exec logrotate "$@"
