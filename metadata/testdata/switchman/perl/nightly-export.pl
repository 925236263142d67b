#!/usr/bin/perl
# A switchman-era script: each entry nests <switchman>, other tools' blocks
# sit beside the entries, and the shards share switchman's lock (the
# script's basename).
use strict;
use warnings;

print "export\n";

__END__

=head1 NAME

nightly-export - export everything, in two shards

=head1 METADATA

<crontab>
   params: --export-all --mod 2 --rem 0
   time: 17 3 * * *
   <switchman>
       group: batch-nightly
       <leases>
           mem: 512
       </leases>
   </switchman>
   package: nightly-scripts
</crontab>

<crontab>
   params: --export-all --mod 2 --rem 1
   time: 47 3 * * *
   <switchman>
       group: batch-nightly
       <leases>
           mem: 512
           cpu: 2
       </leases>
   </switchman>
   package: nightly-scripts
</crontab>

<crontab>
   # no <switchman>: a plain cron line on every host, as it always was
   params: --cleanup-spool
   time: */10 * * * *
   user: export
   package: nightly-scripts
</crontab>

<juggler>
    host: checks.example.org
    ttl: 4h
    <check>
        service: nightly-export
    </check>
</juggler>

<monrun>
    execution_interval: 300
    command: /usr/bin/check-export
</monrun>

=cut
