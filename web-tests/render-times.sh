#!/usr/bin/env bash
# Server time of each web page on a big city: logs in, then requests every page N times
# over loopback and prints the median and maximum of curl's time to first byte (on
# loopback, that is the server's time to render). Usage:
#   web-tests/render-times.sh http://127.0.0.1:8080 ADMIN_PASSWORD [N]
# The server must hold a city (e.g. `xikang gen --people 1000000 --days 2`); the script
# registers one case (P1000) through the page if none exists, to time the contact list.
set -euo pipefail
base=$1 password=$2 n=${3:-7}
jar=$(mktemp)
trap 'rm -f "$jar"' EXIT
pre=$(curl -s -c "$jar" -b "$jar" "$base/web/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
curl -s -c "$jar" -b "$jar" -o /dev/null --data-urlencode "csrf=$pre" --data-urlencode next=/web \
  --data-urlencode name=admin --data-urlencode "password=$password" "$base/web/login"
csrf=$(curl -s -b "$jar" "$base/web/cases" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
if ! curl -s -b "$jar" "$base/web/cases" | grep -q 'href="/web/cases/C1"'; then
  onset=$(TZ=Asia/Shanghai date -d '-1 day' +%Y-%m-%dT%H:%M)
  curl -s -b "$jar" -o /dev/null --data-urlencode "csrf=$csrf" -d person=P1000 -d kind=confirmed \
    --data-urlencode "onset=$onset" "$base/web/cases"
fi
time_of() { # method path [form...]
  local method=$1 path=$2; shift 2
  local ts=()
  for _ in $(seq 1 "$n"); do
    if [ "$method" = GET ]; then
      ts+=("$(curl -s -b "$jar" -o /dev/null -w '%{time_starttransfer}' "$base$path")")
    else
      ts+=("$(curl -s -b "$jar" -o /dev/null -w '%{time_starttransfer}' "$@" "$base$path")")
    fi
  done
  printf '%s\n' "${ts[@]}" | sort -n | awk -v p="$method $path" '{a[NR]=$1} END {printf "%-42s median %6.1f ms  max %6.1f ms\n", p, a[int((NR+1)/2)]*1000, a[NR]*1000}'
}
token=$(curl -s -b "$jar" "$base/web/people/P1000" | sed -n 's/.*id="token">\([^<]*\)<.*/\1/p' | head -n1)
time_of GET /web/login
time_of GET /web/people/P1000
time_of GET /web/cases
time_of GET /web/cases/C1
time_of GET /web/dashboard
time_of GET /web/dashboard/data.json
time_of GET /web/bulletin
time_of GET "/web/bulletin?format=json"
time_of GET /web/venue
time_of POST /web/venue --data-urlencode "csrf=$csrf" --data-urlencode "place_code=$(curl -s -b "$jar" "$base/web/venues/V1/poster" | sed -n 's/.*class="place">[^:]*: \([^<]*\)<.*/\1/p' | head -n1)" --data-urlencode "code=$token"
time_of GET /web/venues/V1/poster
time_of GET /web/admin/users
time_of GET /web/admin/policy
time_of GET /web/admin/policy/diff
time_of GET /web/dashboard/live
time_of GET /web/ranking
time_of GET /web/lab
time_of GET /web/sampling
time_of GET /web/site
time_of GET /web/appeals
