#!/usr/bin/env bash
# The EDNS compliance queries of ISC's ednscomp suite (genreport), each
# checked as RFC 6891 and RFC 8906 require, against sixpn serve in a namespace.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
: "${SIXPN:?set SIXPN to the sixpn binary}"

NS=sx-srv-edns
A=fdaa:0:a:0:1:0:1:2
work=$(mktemp -d /tmp/sx-srv-edns.XXXXXX)
on_exit "rm -rf $work"
db=$work/sixpn.db
web_db "$db"
{
  echo "BEGIN; INSERT INTO apps (network_id, name) VALUES (10, 'big');"
  for i in $(seq 1 60); do
    printf "INSERT INTO instances (app_id, id, region, host_id, address) SELECT id, '%08x', 'ams', 9, 'fdaa:0:a:0:9:0:%x:2' FROM apps WHERE name = 'big';\n" $i $i
  done
  echo "COMMIT;"
} | sqlite3 "$db"

new_netns $NS
add_addr $NS fdaa::3
add_addr $NS $A
start_bg sixpn-edns ip netns exec $NS "$SIXPN" serve --db "$db" --threads 1
q() { ip netns exec $NS dig @fdaa::3 -b $A +time=1 +tries=1 +norec "$@" 2>&1; }
check "the server answers" wait_for 10 q web.internal AAAA

# Pieces of dig's output.
status() { printf '%s\n' "$1" | sed -n 's/.*status: \([A-Z]*\).*/\1/p' | head -1; }
edns_line() { printf '%s\n' "$1" | grep '^; EDNS:' | head -1; }
opt_options() { printf '%s\n' "$1" | sed -n '/OPT PSEUDOSECTION/,/QUESTION SECTION/p' | grep -vE 'OPT PSEUDOSECTION|QUESTION SECTION|^; EDNS:' | grep -c .; }
count() { printf '%s\n' "$1" | sed -n "s/.*$2: \([0-9]*\).*/\1/p" | head -1; }

echo "-- dns: plain DNS, no EDNS"
r=$(q +noedns internal. SOA)
expect_eq "dns: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "dns: no OPT in the reply" "" "$(edns_line "$r")"
expect_eq "dns: the SOA" "1" "$(count "$r" ANSWER)"

echo "-- edns: EDNS version 0"
r=$(q +edns=0 +nocookie internal. SOA)
expect_eq "edns: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "edns: OPT version 0, no flags, our size" "; EDNS: version: 0, flags:; udp: 1232" "$(edns_line "$r")"
expect_eq "edns: no options" "0" "$(opt_options "$r")"

echo "-- edns1: EDNS version 1 gets BADVERS"
r=$(q +edns=1 +noednsneg +nocookie internal. SOA)
expect_eq "edns1: BADVERS" "BADVERS" "$(status "$r")"
expect_match "edns1: the OPT says version 0" '^; EDNS: version: 0,' "$(edns_line "$r")"
expect_eq "edns1: no answer" "0" "$(count "$r" ANSWER)"

echo "-- ednsopt: an unknown option is ignored, not echoed"
r=$(q +edns=0 +nocookie +ednsopt=100 internal. SOA)
expect_eq "ednsopt: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "ednsopt: no option back" "0" "$(opt_options "$r")"
expect_eq "ednsopt: the SOA" "1" "$(count "$r" ANSWER)"

echo "-- edns1opt: version 1 with an unknown option"
r=$(q +edns=1 +noednsneg +nocookie +ednsopt=100 internal. SOA)
expect_eq "edns1opt: BADVERS" "BADVERS" "$(status "$r")"
expect_eq "edns1opt: no option back" "0" "$(opt_options "$r")"

echo "-- ednsflags: an unknown flag is ignored, not echoed"
r=$(q +edns=0 +nocookie +ednsflags=0x80 internal. SOA)
expect_eq "ednsflags: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "ednsflags: flags clear (no MBZ back)" "; EDNS: version: 0, flags:; udp: 1232" "$(edns_line "$r")"

echo "-- do: DNSSEC OK is echoed"
r=$(q +edns=0 +nocookie +dnssec internal. SOA)
expect_eq "do: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "do: DO back" "; EDNS: version: 0, flags: do; udp: 1232" "$(edns_line "$r")"

echo "-- optlist: NSID, ECS, EXPIRE and COOKIE are not answered"
r=$(q +edns=0 +nsid +subnet=0.0.0.0/0 +expire +cookie internal. SOA)
expect_eq "optlist: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "optlist: no option back" "0" "$(opt_options "$r")"

echo "-- bufsize 512: an answer that does not fit is truncated"
r=$(q +edns=0 +nocookie +bufsize=512 +dnssec +ignore big.internal AAAA)
expect_match "edns@512: TC" 'flags: qr aa tc( ra)?;' "$r"
expect_match "edns@512: at most 512 octets" 'MSG SIZE  rcvd: ([0-9]{1,2}|[1-4][0-9]{2}|50[0-9]|51[0-2])$' "$r"
expect_eq "edns@512: OPT still there, DO echoed" "; EDNS: version: 0, flags: do; udp: 1232" "$(edns_line "$r")"
r=$(q +edns=0 +nocookie +bufsize=512 web.internal AAAA)
expect_match "edns@512: an answer that fits is whole" 'flags: qr aa( ra)?;.*ANSWER: 1' "$(printf '%s' "$r" | tr '\n' ' ')"

echo "-- opcode 15: NOTIMP"
r=$(q +noedns +opcode=15 internal. SOA)
expect_eq "opcode: NOTIMP" "NOTIMP" "$(status "$r")"
expect_match "opcode: the opcode is echoed" 'opcode: RESERVED15' "$r"
expect_eq "opcode: no answer" "0" "$(count "$r" ANSWER)"
r=$(q +edns=0 +nocookie +opcode=15 internal. SOA)
expect_eq "opcodeedns: NOTIMP" "NOTIMP" "$(status "$r")"
expect_eq "opcodeedns: with an OPT" "; EDNS: version: 0, flags:; udp: 1232" "$(edns_line "$r")"

echo "-- ednstcp: EDNS over TCP"
r=$(q +tcp +edns=0 +nocookie internal. SOA)
expect_eq "ednstcp: NOERROR" "NOERROR" "$(status "$r")"
expect_eq "ednstcp: OPT version 0" "; EDNS: version: 0, flags:; udp: 1232" "$(edns_line "$r")"
r=$(q +tcp +edns=1 +noednsneg +nocookie internal. SOA)
expect_eq "ednstcp: version 1 is BADVERS over TCP too" "BADVERS" "$(status "$r")"

echo "-- the same with kdig"
k=$(ip netns exec $NS kdig @fdaa::3 -b $A +time=1 +retry=0 +edns=1 +nocookie internal. SOA 2>&1)
expect_match "kdig +edns=1: BADVERS" 'status: BADVERS' "$k"
k=$(ip netns exec $NS kdig @fdaa::3 -b $A +time=1 +retry=0 +dnssec +nsid internal. SOA 2>&1)
expect_match "kdig +dnssec: DO echoed" 'Version: 0; flags: do; UDP size: 1232 B; ext-rcode: NOERROR' "$k"
expect_eq "kdig +nsid: no NSID back" "" "$(printf '%s\n' "$k" | grep -i 'NSID')"
