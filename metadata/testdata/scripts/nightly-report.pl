#!/usr/bin/perl
# Sharded nightly report: two entries of one script, so each gets its own
# lock (the script name plus a hash of its params).
use strict;
use warnings;

print "report\n";

__END__

=head1 NAME

nightly-report - the nightly report, in two shards

=head1 METADATA

<crontab>
    package: reports
    params: --mod 2 --rem 0
    time: */2 * * * *
</crontab>

<crontab>
    package: reports
    params: --mod 2 --rem 1
    time: 1-59/2 * * * *
</crontab>

=head1 AUTHOR

An example that switchman's generator would read the same way:

<crontab>
    this block is outside METADATA and is not read
</crontab>

=cut
