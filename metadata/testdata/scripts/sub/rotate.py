#!/usr/bin/python3
# Two entries with the same params: one job, so one lock, no suffix.
# <crontab>
#     package: batch
#     time: @hourly
#     params: --keep 24
# </crontab>
# <crontab>
#     package: batch
#     time: 45 23 * * sun
#     params: --keep   24
# </crontab>
print("rotate")
