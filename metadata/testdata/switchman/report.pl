#!/usr/bin/perl
# cronguard's own form beside the switchman-era scripts: no <switchman>
# block anywhere, so its shards keep a lock each and its group defaults to
# the package.
__END__

=head1 METADATA

<crontab>
    package: housekeeping
    params: --rem 0
    time: 0 * * * *
</crontab>

<crontab>
    package: housekeeping
    params: --rem 1
    time: 30 * * * *
</crontab>

=cut
