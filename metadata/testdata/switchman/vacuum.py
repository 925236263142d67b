#!/usr/bin/env python3
# A <switchman> block with no group (switchman without -g: any host, one
# at a time), and a lease of a per-host resource.
#
# <crontab>
#   time: 30 2 * * 0
#   package: housekeeping
#   user: postgres
#   <switchman>
#     <leases>
#       mem: 2048
#     </leases>
#   </switchman>
# </crontab>
print("vacuum")
