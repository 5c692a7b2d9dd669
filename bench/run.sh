#!/usr/bin/env bash
# Plain Caddy reverse_proxy against partnergate, same load, one run.
#
# Builds cmd/partnergate and starts, all on 127.0.0.1 and on free ports:
#   upstream     the same binary, a site that answers `respond "ok" 200`
#   (a) plain    the same binary, reverse_proxy to the upstream, no partnergate
#   (b) gateway  partnergate's acceptance Caddyfile shape (partner_auth +
#                reverse_proxy to the same upstream, and the partner_admin site)
# It seeds a partner and a user through the admin API, signs in through the
# login form, checks that (b) really authenticates (200 from the upstream
# with the session cookie, 401 without), then runs the same wrk load against
# (a) and (b) alternately for a few rounds. Both get identical requests
# (Host and session cookie included), so the only difference is partner_auth
# (which also hands the upstream identity headers instead of the cookie).
#
# For each run it reports throughput, p50/p99 latency (exact, from wrk's
# histogram) and CPU time per request from the proxy process's own
# accounting (utime+stime in /proc/PID/stat), then partnergate/plain ratios.
#
# Knobs (environment):
#   BENCH_ROUNDS (5), BENCH_DURATION (10s), BENCH_THREADS (2),
#   BENCH_CONNECTIONS (32), BENCH_WARMUP (3s): the wrk load.
#   BENCH_PIN=1: pin wrk to the first CPU and the servers to the others
#     (taskset), so the load generator and the proxies stop trading cores;
#     much less noise between rounds on a small machine.
#   BENCH_PROFILE=DIR: after the measured rounds, take a CPU profile of
#     each proxy under the same load (BENCH_PROFILE_SECONDS, 10) from
#     Caddy's admin endpoint, which is then enabled on loopback (it stays
#     off otherwise): DIR/plain.pprof, DIR/gateway.pprof, the allocations
#     meanwhile in DIR/*.allocs.pprof and wrk's output in DIR/*.wrk.txt.
#     Read them with `go tool pprof -top DIR/gateway.pprof`.
#
# A round whose machine was busy with something else is flagged ("other"):
# rerun on a quiet machine before trusting its ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-5}
duration=${BENCH_DURATION:-10s}
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
warmup=${BENCH_WARMUP:-3s}
profile_dir=${BENCH_PROFILE:-}
pin=${BENCH_PIN:-0}
profile_seconds=${BENCH_PROFILE_SECONDS:-10}

partner=acme
base_domain=apps.localhost
host=$partner.$base_domain
email=alice@acme.example
user_password=bench-password-Correct-Horse-42

die() {
	echo "bench: $*" >&2
	exit 1
}

for tool in go curl awk; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
server_cpu=()
load_cpu=()
if [ "$pin" = 1 ]; then
	command -v taskset >/dev/null || die "BENCH_PIN=1 needs taskset"
	[ "$(nproc)" -ge 2 ] || die "BENCH_PIN=1 needs 2 CPUs"
	server_cpu=(taskset -c "1-$(($(nproc) - 1))")
	load_cpu=(taskset -c 0)
fi
if ! command -v wrk >/dev/null; then
	[ "$(id -u)" = 0 ] || die "wrk is missing; install it (apt-get install wrk)"
	echo "installing wrk"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq wrk >/dev/null
fi

tmp=$(mktemp -d)
pids=()
cleanup() {
	local status=$?
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "$status" != 0 ] && [ -d "$tmp" ]; then
		for log in "$tmp"/*.log; do
			[ -s "$log" ] || continue
			echo "--- last lines of $(basename "$log")" >&2
			tail -n 20 "$log" >&2
		done
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port [TAKEN...]: a port nothing listens on on 127.0.0.1, below the
# ephemeral range so no outgoing connection takes it meanwhile, and none of
# TAKEN. A server that still loses a race for it fails to start, and
# wait_status reports that.
free_port() {
	local p
	for _ in $(seq 500); do
		p=$((20000 + RANDOM % 12000))
		case " $* " in *" $p "*) continue ;; esac
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# start NAME CADDYFILE: runs the binary on a config, in its own data dirs.
start() {
	mkdir -p "$tmp/$1"
	XDG_DATA_HOME="$tmp/$1" XDG_CONFIG_HOME="$tmp/$1" HOME="$tmp/$1" \
		PARTNERGATE_OPERATOR_KEY="$operator_key" PARTNERGATE_SECRET_KEY="$secret_key" \
		"${server_cpu[@]}" "$bin" run --config "$2" --adapter caddyfile >"$tmp/$1.log" 2>&1 &
	pids+=($!)
	printf -v "pid_$1" '%s' "$!"
}

# wait_status PID WANT CURL-ARGS...: polls until the URL answers WANT.
wait_status() {
	local pid=$1 want=$2 got
	shift 2
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || die "process $pid exited while starting"
		got=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "$@" 2>/dev/null) || true
		[ "$got" = "$want" ] && return 0
		sleep 0.1
	done
	die "no $want from $* (last: ${got:-none})"
}

# cpu_ticks PID: the process's user+system CPU time so far, in clock ticks,
# all its threads included.
cpu_ticks() {
	local stat rest
	read -r stat <"/proc/$1/stat"
	rest=${stat##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $rest
	# Fields 14 (utime) and 15 (stime), counting from after "pid (comm)".
	echo $((${12} + ${13}))
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

operator_key=bench-$(random_hex 16)
secret_key=$(random_hex 32)
ticks_per_sec=$(getconf CLK_TCK)

echo "== build"
bin=$tmp/partnergate
go build -o "$bin" ./cmd/partnergate

up_port=$(free_port)
plain_port=$(free_port "$up_port")
pg_port=$(free_port "$up_port" "$plain_port")
plain_admin="admin off"
gateway_admin="admin off"
if [ -n "$profile_dir" ]; then
	mkdir -p "$profile_dir"
	profile_dir=$(cd "$profile_dir" && pwd)
	plain_admin_port=$(free_port "$up_port" "$plain_port" "$pg_port")
	gateway_admin_port=$(free_port "$up_port" "$plain_port" "$pg_port" "$plain_admin_port")
	plain_admin="admin 127.0.0.1:$plain_admin_port"
	gateway_admin="admin 127.0.0.1:$gateway_admin_port"
fi

cat >"$tmp/upstream.Caddyfile" <<EOF
{
	admin off
}
http://:$up_port {
	bind 127.0.0.1
	respond "ok" 200
}
EOF

cat >"$tmp/plain.Caddyfile" <<EOF
{
	$plain_admin
}
http://*.$base_domain:$plain_port {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$up_port
}
EOF

cat >"$tmp/gateway.Caddyfile" <<EOF
{
	$gateway_admin
	partnergate {
		store file $tmp/store
		base_domain $base_domain
		operator_key {env.PARTNERGATE_OPERATOR_KEY}
		secret_key {env.PARTNERGATE_SECRET_KEY}
	}
}
http://*.$base_domain:$pg_port {
	bind 127.0.0.1
	partner_auth
	reverse_proxy 127.0.0.1:$up_port
}
http://admin.localhost:$pg_port {
	bind 127.0.0.1
	partner_admin
}
EOF

echo "== start upstream :$up_port, plain :$plain_port, partnergate :$pg_port"
start upstream "$tmp/upstream.Caddyfile"
start plain "$tmp/plain.Caddyfile"
start gateway "$tmp/gateway.Caddyfile"
# Variables set by start through printf -v.
pid_upstream=${pid_upstream:?} pid_plain=${pid_plain:?} pid_gateway=${pid_gateway:?}

wait_status "$pid_upstream" 200 "http://127.0.0.1:$up_port/"
wait_status "$pid_plain" 200 -H "Host: $host" "http://127.0.0.1:$plain_port/"

admin() { # METHOD PATH [JSON]: prints the status, the body goes to $tmp/admin.out
	curl -sS --max-time 5 -o "$tmp/admin.out" -w '%{http_code}' -X "$1" \
		"http://127.0.0.1:$pg_port$2" -H "Host: admin.localhost:$pg_port" \
		-H "Authorization: Bearer $operator_key" -H 'Content-Type: application/json' \
		${3:+--data "$3"}
}
wait_status "$pid_gateway" 200 -H "Host: admin.localhost:$pg_port" \
	-H "Authorization: Bearer $operator_key" "http://127.0.0.1:$pg_port/api/v1/partners"

echo "== seed partner $partner and user $email"
status=$(admin POST /api/v1/partners "{\"id\":\"$partner\",\"name\":\"Acme Corp\",\"hostnames\":[]}")
[ "$status" = 201 ] || die "create partner: $status $(cat "$tmp/admin.out")"
status=$(admin POST "/api/v1/partners/$partner/users" \
	"{\"email\":\"$email\",\"name\":\"Alice Anders\",\"password\":\"$user_password\"}")
[ "$status" = 201 ] || die "create user: $status $(cat "$tmp/admin.out")"

echo "== sign in through the login form"
# The partner's host resolves once the directory reloads on the event.
site=http://$host:$pg_port
resolve=(--resolve "$host:$pg_port:127.0.0.1")
jar=$tmp/cookies.txt
wait_status "$pid_gateway" 200 "${resolve[@]}" "$site/.partnergate/login"
curl -sS --max-time 5 "${resolve[@]}" -c "$jar" -b "$jar" -o "$tmp/login.html" "$site/.partnergate/login"
csrf=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' "$tmp/login.html" | head -n 1)
[ -n "$csrf" ] || die "no csrf_token on the login page"
status=$(curl -sS --max-time 10 "${resolve[@]}" -c "$jar" -b "$jar" -o /dev/null -w '%{http_code}' \
	--data-urlencode "email=$email" --data-urlencode "password=$user_password" \
	--data-urlencode "csrf_token=$csrf" --data-urlencode "return_to=/" \
	"$site/.partnergate/login")
[ "$status" = 303 ] || die "sign-in answered $status, want 303"
session=$(awk '$6 == "pg_session" { print $7 }' "$jar")
[ -n "$session" ] || die "sign-in set no pg_session cookie"

# What every wrk request carries, to both proxies.
headers=(-H "Host: $host" -H "Cookie: pg_session=$session")

echo "== check that partnergate authenticates (so the load is not a redirect)"
# expect NAME WANT-STATUS WANT-BODY URL CURL-ARGS...
expect() {
	local name=$1 want=$2 body=$3 url=$4 got
	shift 4
	got=$(curl -sS --max-time 5 -o "$tmp/check.out" -w '%{http_code}' "$@" "$url")
	[ "$got" = "$want" ] || die "$name: status $got, want $want"
	if [ -n "$body" ] && [ "$(cat "$tmp/check.out")" != "$body" ]; then
		die "$name: body $(head -c 200 "$tmp/check.out"), want $body"
	fi
	echo "   $name: $got"
}
expect "partnergate with cookie" 200 ok "http://127.0.0.1:$pg_port/" "${headers[@]}"
expect "partnergate without cookie" 401 "" "http://127.0.0.1:$pg_port/" -H "Host: $host"
expect "partnergate with a forged cookie" 401 "" "http://127.0.0.1:$pg_port/" \
	-H "Host: $host" -H "Cookie: pg_session=${session%?????}AAAAA"
expect "plain with cookie" 200 ok "http://127.0.0.1:$plain_port/" "${headers[@]}"

# load PORT SECONDS OUT: one wrk run, its RESULT line in OUT.
load() {
	"${load_cpu[@]}" wrk -t"$threads" -c"$connections" -d"$2" --latency -s bench/report.lua \
		"${headers[@]}" "http://127.0.0.1:$1/" >"$3" 2>&1 || die "wrk failed: $(cat "$3")"
}

# field NAME FILE: a value from a RESULT line.
field() { sed -n "s/^RESULT.* $1=\([0-9.]*\).*/\1/p" "$2"; }

echo "== warm up ($warmup each)"
load "$plain_port" "$warmup" "$tmp/warm.out"
load "$pg_port" "$warmup" "$tmp/warm.out"

# snapshot PROXY-PID: CPU ticks so far of the proxy, the upstream, this
# shell's reaped children (wrk) and the whole machine.
snapshot() {
	local stat rest _ user nice system idle iowait irq softirq steal
	snap_proxy=$(cpu_ticks "$1")
	snap_upstream=$(cpu_ticks "$pid_upstream")
	read -r stat <"/proc/$$/stat"
	rest=${stat##*) }
	# shellcheck disable=SC2086 # split the fields on purpose
	set -- $rest
	snap_children=$((${14} + ${15})) # fields 16 (cutime) and 17 (cstime)
	read -r _ user nice system idle iowait irq softirq steal _ </proc/stat
	snap_busy=$((user + nice + system + irq + softirq))
	snap_all=$((snap_busy + idle + iowait + steal))
	snap_steal=$steal
}

echo "== measure: $rounds rounds of wrk -t$threads -c$connections -d$duration, alternating"
# One line per run: round variant requests duration_us p50_us p99_us
# proxy_ticks upstream_ticks bytes errors wrk_ticks other_ticks all_ticks
# steal_ticks. other is the machine's busy time spent outside the proxy,
# the upstream and wrk: another workload's, or the kernel's unattributed.
results=$tmp/results.tsv
: >"$results"
for round in $(seq "$rounds"); do
	for variant in plain gateway; do
		if [ "$variant" = plain ]; then port=$plain_port pid=$pid_plain; else port=$pg_port pid=$pid_gateway; fi
		out=$tmp/$variant-$round.out
		snapshot "$pid"
		p0=$snap_proxy u0=$snap_upstream c0=$snap_children b0=$snap_busy a0=$snap_all s0=$snap_steal
		load "$port" "$duration" "$out"
		snapshot "$pid"
		grep -q '^RESULT' "$out" || die "no result from wrk: $(cat "$out")"
		requests=$(field requests "$out")
		[ "$requests" -gt 0 ] || die "$variant: no requests completed"
		errors=$(($(field connect "$out") + $(field read "$out") + $(field write "$out") + $(field status "$out") + $(field timeout "$out")))
		[ "$(field status "$out")" = 0 ] || die "$variant: $(field status "$out") responses with status >= 400"
		proxy=$((snap_proxy - p0)) upstream=$((snap_upstream - u0)) wrk_cpu=$((snap_children - c0))
		other=$((snap_busy - b0 - proxy - upstream - wrk_cpu))
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$variant" "$requests" \
			"$(field duration_us "$out")" "$(field p50_us "$out")" "$(field p99_us "$out")" \
			"$proxy" "$upstream" "$(field bytes "$out")" "$errors" \
			"$wrk_cpu" "$other" $((snap_all - a0)) $((snap_steal - s0)) >>"$results"
		awk -F'\t' -v tps="$ticks_per_sec" 'END {
			printf "   round %d %-8s %8.0f req/s  p50 %5.2f ms  p99 %6.2f ms  cpu %5.1f us/req  upstream %5.1f us/req  other %4.1f%%  errors %d\n",
				$1, $2, $3 / ($4 / 1e6), $5 / 1e3, $6 / 1e3, $7 / tps * 1e6 / $3, $8 / tps * 1e6 / $3, ($12 > 0 ? 100 * $12 / $13 : 0), $10
		}' "$results"
	done
done

# The gateway must still be authenticating after the load.
expect "partnergate with cookie, after the load" 200 ok "http://127.0.0.1:$pg_port/" "${headers[@]}"

if [ -n "$profile_dir" ]; then
	echo "== CPU profiles under the same load, into $profile_dir"
	for variant in plain gateway; do
		if [ "$variant" = plain ]; then port=$plain_port admin_port=$plain_admin_port; else port=$pg_port admin_port=$gateway_admin_port; fi
		load "$port" $((profile_seconds + 4))s "$profile_dir/$variant.wrk.txt" &
		load_pid=$!
		pids+=("$load_pid")
		sleep 2
		curl -sS --max-time $((profile_seconds + 20)) -o "$profile_dir/$variant.allocs.pprof" \
			"http://127.0.0.1:$admin_port/debug/pprof/allocs?seconds=$profile_seconds" &
		allocs_pid=$!
		curl -sS --max-time $((profile_seconds + 20)) -o "$profile_dir/$variant.pprof" \
			"http://127.0.0.1:$admin_port/debug/pprof/profile?seconds=$profile_seconds" || die "no profile from $variant"
		wait "$allocs_pid" || die "no allocation profile from $variant"
		wait "$load_pid"
		awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			rps = f["requests"] / (f["duration_us"] / 1e6)
			printf "   %s (wrk: %.0f req/s, so about %.0f requests in the %ds profile)\n", file, rps, s * rps, s }' \
			file="$profile_dir/$variant.pprof" s="$profile_seconds" "$profile_dir/$variant.wrk.txt"
	done
fi

echo
pinning="unpinned"
[ "$pin" = 1 ] && pinning="wrk on CPU 0, servers on CPUs ${server_cpu[2]}"
echo "== summary ($rounds rounds, wrk -t$threads -c$connections -d$duration, $(nproc) CPUs, $pinning)"
awk -F'\t' -v tps="$ticks_per_sec" '
	{
		v = $2; n[v]++
		rps = $3 / ($4 / 1e6)
		sum_rps[v] += rps; req[v] += $3; cpu[v] += $7; up[v] += $8; bytes[v] += $9; err[v] += $10
		p50[v] += $5; p99[v] += $6
		# Tick rounding can make other slightly negative; nothing ran then.
		other += ($12 > 0 ? $12 : 0); all += $13; steal += $14
		if (100 * $12 / $13 > worst) worst = 100 * $12 / $13
		if (100 * $12 / $13 > 6) noisy[$1] = 1
		q_req[$1, v] = $3; q_dur[$1, v] = $4; q_cpu[$1, v] = $7
		if (v == "plain") a_rps[$1] = rps; else b_rps[$1] = rps
		if (v == "plain") a_cpu[$1] = $7 / $3; else b_cpu[$1] = $7 / $3
	}
	END {
		printf "%-22s %12s %10s %10s %14s %14s %10s %8s\n", "proxy", "req/s", "p50 ms", "p99 ms", "cpu us/req", "upstream us/r", "bytes/resp", "errors"
		split("plain gateway", order, " ")
		label["plain"] = "(a) caddy reverse_proxy"; label["gateway"] = "(b) partnergate"
		for (i = 1; i <= 2; i++) {
			v = order[i]
			mean_rps[v] = sum_rps[v] / n[v]
			cpu_req[v] = cpu[v] / tps * 1e6 / req[v]
			printf "%-22s %12.0f %10.2f %10.2f %14.2f %14.2f %10.1f %8d\n", label[v], mean_rps[v],
				p50[v] / n[v] / 1e3, p99[v] / n[v] / 1e3, cpu_req[v], up[v] / tps * 1e6 / req[v], bytes[v] / req[v], err[v]
		}
		lo_t = lo_c = 1e9; hi_t = hi_c = 0
		for (r in a_rps) {
			t = b_rps[r] / a_rps[r]; c = b_cpu[r] / a_cpu[r]
			if (t < lo_t) lo_t = t; if (t > hi_t) hi_t = t
			if (c < lo_c) lo_c = c; if (c > hi_c) hi_c = c
		}
		tr = mean_rps["gateway"] / mean_rps["plain"]
		cr = cpu_req["gateway"] / cpu_req["plain"]
		tv = "MISSES"; if (tr >= 0.90) tv = "meets"
		cv = "MISSES"; if (cr <= 1.10) cv = "meets"
		printf "\nratios partnergate/plain (target)    overall   per-round range\n"
		printf "  throughput           (>= 0.90)     %6.3f   %.3f .. %.3f   %s\n", tr, lo_t, hi_t, tv
		printf "  CPU per request      (<= 1.10)     %6.3f   %.3f .. %.3f   %s\n", cr, lo_c, hi_c, cv
		quiet = 0
		for (r in a_rps) {
			if (r in noisy) continue
			quiet++
			for (i = 1; i <= 2; i++) {
				v = order[i]
				q_rps_sum[v] += q_req[r, v] / (q_dur[r, v] / 1e6); q_req_sum[v] += q_req[r, v]; q_cpu_sum[v] += q_cpu[r, v]
			}
		}
		if (quiet > 0 && quiet < n["plain"]) {
			printf "  quiet rounds only (%d of %d): throughput %.3f, CPU per request %.3f\n", quiet, n["plain"],
				q_rps_sum["gateway"] / q_rps_sum["plain"],
				(q_cpu_sum["gateway"] / q_req_sum["gateway"]) / (q_cpu_sum["plain"] / q_req_sum["plain"])
		}
		printf "\nreq/s and latency are means over rounds; CPU per request is the utime+stime\n"
		printf "the proxy process accounted over its runs, divided by the requests completed.\n"
		printf "Machine busy outside wrk, proxy and upstream: %.1f%% on average, %.1f%% at worst;\n", 100 * other / all, worst
		printf "steal %.1f%%.", 100 * steal / all
		if (worst > 6) printf " Another workload shared the CPUs: ratios are noisy, rerun on a quiet machine."
		printf "\n"
	}' "$results"
