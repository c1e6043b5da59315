#!/usr/bin/env bash
# End-to-end benchmark of the running agent (issue 3): weir simulate -> local mosquitto -> weir run
# -> upstream mosquitto -> weir sink, all on loopback with free ports. A program run by hand, not
# a timed test; its figures go to BENCHMARKS.md.
#
#   tests/bench/e2e/run.sh BUILD_DIR [sustained|latency|drain|reconnect|all]     (default: all)
#
# Scenarios (each starts fresh brokers, agent and sink, so that peak RSS is per scenario):
#   sustained  simulate at 10k, 25k, 50k, 75k readings/s, 1,000 sensors, 20 s each: delivered
#              readings/s end to end, agent CPU (% of one core) and peak RSS, loss, order, dups.
#   latency    5,000 readings/s, 1,000 sensors, 30 s: latency publish -> upstream delivery, agent
#              CPU and peak RSS. Two passes: the default protobuf upstream (the sink's latency,
#              from each reading's event time), and a JSON upstream where mosquitto_sub captures
#              on both brokers match each reading (sensor, time) to measure it exactly. Why two:
#              simulate stamps a whole round of sensors with one event time, so event time lags the
#              publish time by up to sensors/rate (200 ms here) and inflates the sink's figure.
#   drain      upstream down, 1,000,000 readings published into weir run until all are committed;
#              then the upstream starts: time until weir has them acknowledged and until the sink
#              has them all -> drain rate.
#   reconnect  E2E_OUTAGES (10) upstream outages of E2E_OUTAGE_S (30) s at 500 readings/s: the
#              time from the upstream's restart to weir connected again (median, p90, max).
#
# Environment knobs: E2E_RATES ("10000 25000 50000 75000"), E2E_SECONDS (20),
# E2E_QOS (1, the simulators' publish QoS), E2E_BATCH (1: readings per MQTT message in the
# sustained and drain scenarios, `weir simulate --batch`; JSON arrays of consecutive sensors'
# readings, as a poller publishes a snapshot; latency always publishes one reading per message),
# E2E_PER_SIM (12500 x batch: readings/s per simulator process; one process tops out near
# 13.5 k messages/s at QoS 1), E2E_SENSORS (1000),
# E2E_DRAIN_COUNT (1000000), E2E_LATENCY_SECONDS (30), E2E_RUN_ARGS (extra `weir run` arguments),
# E2E_KEEP=1 (keep the temp dir). Not WEIR_*: `weir run` reads every WEIR_* variable as a config
# key and refuses unknown ones.
#
# Brokers: mosquitto with `max_queued_messages 1000000`, because its default (1000) silently drops
# QoS 1 messages for a subscriber that falls behind, which would show as a loss that is not weir's.
# Agent CPU: utime+stime from /proc/PID/stat over the measured interval, as % of one core. Peak
# RSS: VmHWM from /proc/PID/status just before the agent is stopped.
set -euo pipefail

if [ $# -lt 1 ] || [ ! -x "$1/agent/app/weir" ]; then
  echo "usage: $0 BUILD_DIR [sustained|latency|drain|reconnect|all]  (BUILD_DIR/agent/app/weir must exist)" >&2
  exit 2
fi
weir=$(cd "$1" && pwd)/agent/app/weir
scenario=${2:-all}
case $scenario in sustained | latency | drain | reconnect | all) ;; *)
  echo "unknown scenario: $scenario" >&2
  exit 2
  ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
py() { python3 "$here/e2e.py" "$@"; }

rates=${E2E_RATES:-10000 25000 50000 75000}
seconds=${E2E_SECONDS:-20}
qos=${E2E_QOS:-1}
batch=${E2E_BATCH:-1}
per_sim=${E2E_PER_SIM:-$((12500 * batch))}
sensors=${E2E_SENSORS:-1000}
drain_count=${E2E_DRAIN_COUNT:-1000000}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
read -r -a run_args <<<"${E2E_RUN_ARGS:-}"
ticks_per_s=$(getconf CLK_TCK)

work=$(mktemp -d /tmp/weir-e2e-XXXXXX)
results=$work/results.jsonl
: >"$results"
declare -A pids=() # name -> pid of every process started and not yet stopped
anomalies=""       # measurements that lost, reordered or did not drain: their files are kept

# SIGTERM, up to `grace` seconds, then SIGKILL.
stop() {
  local name=$1 grace=${2:-10} pid=${pids[$1]:-}
  [ -n "$pid" ] || return 0
  unset "pids[$name]"
  kill -TERM "$pid" 2>/dev/null || return 0
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() {
  local name
  for name in "${!pids[@]}"; do
    case $name in sim* | cap*) stop "$name" 3 ;; esac
  done
  stop run 10
  stop sink 5
  for name in "${!pids[@]}"; do stop "$name" 3; done
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  if [ "${E2E_KEEP:-0}" = 1 ] || [ $rc -ne 0 ] || [ -n "$anomalies" ]; then
    echo "e2e: files kept in $work" >&2
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'echo "e2e: interrupted" >&2; exit 130' INT TERM

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { echo "${EPOCHREALTIME}"; }
calc() { python3 -c "print($*)"; }

# Waits up to `timeout` seconds for the command to succeed.
wait_for() {
  local timeout=$1
  shift
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}
port_open() {
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' \
    "$1" 2>/dev/null
}

# start_broker NAME PORT [persist]: mosquitto on 127.0.0.1:PORT, config and log in $dir.
start_broker() {
  local name=$1 port=$2 persist=${3:-}
  {
    echo "listener $port 127.0.0.1"
    echo "allow_anonymous true"
    echo "max_queued_messages 1000000"
    if [ -n "$persist" ]; then
      echo "persistence true"
      echo "persistence_location $dir/"
      echo "persistence_file $name.mosquitto.db"
    else
      echo "persistence false"
    fi
  } >"$dir/$name.conf"
  mosquitto -c "$dir/$name.conf" >>"$dir/$name.log" 2>&1 &
  pids[$name]=$!
  if ! wait_for 5 port_open "$port"; then
    log "mosquitto $name on port $port did not start: $(tail -3 "$dir/$name.log")"
    exit 1
  fi
}

start_sink() {
  "$weir" sink --broker "mqtt://127.0.0.1:$up_port" --report "$dir/sink.json" --quiet \
    --client-id "bench-sink-$$" >"$dir/sink.log" 2>&1 &
  pids[sink]=$!
}
sink_subscribed() { [ "$(jget "$dir/sink.json" subscribed)" = True ]; }

# start_agent [extra weir run args...]
start_agent() {
  mkdir -p "$dir/state"
  "$weir" run --local "mqtt://127.0.0.1:$local_port" --subscribe 'sensors/#' \
    --upstream "mqtt://127.0.0.1:$up_port" --device bench --state "$dir/state" \
    "${run_args[@]}" "$@" >"$dir/run.log" 2>&1 &
  pids[run]=$!
}
# jget FILE KEY...: the values of dotted keys of a JSON file, space-separated, 0 when missing.
# Polled many times a second, so it runs Python only when the file changed since the last parse
# (a Python start costs ~30 ms of CPU, which would skew the agent's figures on 2 cores).
jget() {
  local file=$1 flat line
  shift
  flat=$dir/$(basename "$file" .json).flat
  if [ ! -e "$flat" ] || [ "$file" -nt "$flat" ]; then py flatten "$file" "$flat"; fi
  local -A values=()
  if [ -e "$flat" ]; then
    while IFS=$'\t' read -r key line; do values[$key]=$line; done <"$flat"
  fi
  local out=() key
  for key; do out+=("${values[$key]:-0}"); done
  echo "${out[*]}"
}
status() { jget "$dir/state/status.json" "$@"; }
agent_ready() {
  local s
  s=$(status ingest.local forward.upstream)
  [ "$s" = "connected connected" ]
}
local_ready() { [ "$(status ingest.local)" = connected ]; }
status_ge() { [ "$(status "$1")" -ge "$2" ]; }     # status_ge KEY N: a counter has reached N
status_is() { [ "$(status "$1")" = "$2" ]; }

cpu_ticks() { # utime + stime of PID, in clock ticks
  local stat
  stat=$(<"/proc/$1/stat")
  stat=${stat##*) } # fields after the command name
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12])) # fields 14 and 15 of the full line
}
peak_rss_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }

# start_sims RATE (DURATION|COUNT) VALUE: enough simulator processes for RATE at $per_sim each,
# $sensors split between them (their sensor ids repeat across processes: each names its own
# s0000...). Sets nsims.
start_sims() {
  local rate=$1 bound=$2 value=$3 i
  nsims=$(((rate + per_sim - 1) / per_sim))
  local each_rate each_sensors each_bound
  each_rate=$(calc "$rate / $nsims")
  each_sensors=$((sensors / nsims))
  for ((i = 0; i < nsims; i++)); do
    if [ "$bound" = count ]; then
      each_bound=(--count $((value / nsims + (i < value % nsims ? 1 : 0))))
    else
      each_bound=(--duration "$value")
    fi
    "$weir" simulate --broker "mqtt://127.0.0.1:$local_port" --client-id "bench-sim-$$-$i" \
      --sensors "$each_sensors" --rate "$each_rate" --qos "$qos" --seed $((7 + i)) \
      --topic "sensors/p$i/{sensor}" --batch "$batch" "${each_bound[@]}" >"$dir/sim$i.log" 2>&1 &
    pids[sim$i]=$!
  done
}
# Waits for every simulator; sets `published` to the total their brokers acknowledged.
wait_sims() {
  local i n rc
  published=0
  for ((i = 0; i < nsims; i++)); do
    rc=0
    wait "${pids[sim$i]}" || rc=$?
    [ $rc -eq 0 ] || log "simulator $i exited $rc: $(tail -1 "$dir/sim$i.log")"
    unset "pids[sim$i]"
    n=$(sed -n 's/.*published \([0-9]*\),.*/\1/p' "$dir/sim$i.log" | tail -1)
    published=$((published + ${n:-0}))
  done
}

# Fresh directory, ports, brokers, sink and agent for one measurement.
begin() {
  dir=$work/$1
  mkdir -p "$dir"
  shift
  read -r local_port up_port < <(py ports 2)
  start_broker local "$local_port"
  start_broker upstream "$up_port"
  start_sink
  start_agent "$@"
  wait_for 15 agent_ready || {
    log "weir run did not connect: $(tail -5 "$dir/run.log")"
    exit 1
  }
  wait_for 10 sink_subscribed || {
    log "weir sink did not subscribe: $(tail -5 "$dir/sink.log")"
    exit 1
  }
}
# Stops everything of this measurement, the agent first (it drains and must exit 0).
finish() {
  local pid=${pids[run]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  unset "pids[run]"
  [ $rc -eq 0 ] || log "weir run exited $rc: $(tail -3 "$dir/run.log")"
  stop_all
}

# Waits until the sink has `target` readings and reports them, or `timeout` s pass. Prints the
# time (epoch s) of the first report that had them all, as the report file's mtime (the report is
# rewritten every second, so this is late by up to a second), or "timeout".
wait_delivered() {
  local target=$1 timeout=$2 deadline=$((SECONDS + $2)) delivered
  while [ $SECONDS -lt "$deadline" ]; do
    delivered=$(jget "$dir/sink.json" lanes.readings.delivered)
    if [ "$delivered" -ge "$target" ]; then
      stat -c %.6Y "$dir/sink.json"
      return
    fi
    sleep 0.1
  done
  echo timeout
}

# Records the current measurement as an anomaly when the sink has fewer than $1 readings or saw
# gaps or order violations (call after sink_figures).
check_delivery() {
  if [ "$delivered" -lt "$1" ] || [ "$gaps" != 0 ] || [ "$order" != 0 ]; then
    anomalies+=" $dir"
    log "$(basename "$dir"): delivered $delivered of $1, gaps $gaps, order $order; files kept"
  fi
}

# Loss and order figures from the final sink report, as JSON members.
sink_figures() {
  read -r delivered dups gaps order < <(jget "$dir/sink.json" lanes.readings.delivered \
    total.duplicates total.gaps total.order_violations)
}

sustained() {
  local rate
  for rate in $rates; do
    log "sustained: $rate readings/s for $seconds s (QoS $qos)"
    begin "sustained-$rate"
    local agent=${pids[run]} c0 c1 t0 t1 t_end accepted
    # The other processes' CPU too: on 2 cores they compete with the agent.
    local others=("${pids[local]}" "${pids[upstream]}" "${pids[sink]}") o0=() o1=() p
    for p in "${others[@]}"; do o0+=("$(cpu_ticks "$p")"); done
    c0=$(cpu_ticks "$agent")
    t0=$(now)
    start_sims "$rate" duration "${seconds}s"
    wait_sims
    t1=$(now)
    # Everything the agent accepted (the local broker may have had more in flight) must arrive.
    wait_for 30 status_ge ingest.readings "$published" || true
    accepted=$(status ingest.readings)
    t_end=$(wait_delivered "$accepted" 60)
    c1=$(cpu_ticks "$agent")
    for p in "${others[@]}"; do o1+=("$(cpu_ticks "$p")"); done
    local rss
    rss=$(peak_rss_kb "$agent")
    finish
    sink_figures
    local span
    if [ "$t_end" = timeout ]; then span=$(calc "$(now) - $t0"); else span=$(calc "$t_end - $t0"); fi
    if [ "$t_end" = timeout ] || [ "$delivered" -lt "$accepted" ] || [ "$gaps" != 0 ] ||
      [ "$order" != 0 ] || [ "$accepted" -gt "$published" ]; then
      anomalies+=" $dir"
      log "sustained $rate: not all delivered, gaps/order violations or more accepted than published; files kept in $dir"
    fi
    python3 - "$results" <<PY
import json, sys
row = {"scenario": "sustained", "target/s": $rate, "batch": $batch, "sims": $nsims, "qos": $qos,
       "published/s": round($published / ($t1 - $t0)),
       "delivered/s e2e": round($delivered / $span),
       "drained": "$t_end" != "timeout",
       "catch-up s": round(max(0.0, ${t_end/timeout/$t1} - $t1), 1),
       "agent CPU %": round(100.0 * ($c1 - $c0) / $ticks_per_s / $span, 1),
       "peak RSS MB": round($rss / 1024, 1),
       "local/upstream broker, sink CPU %": "/".join(
           str(round(100.0 * (b - a) / $ticks_per_s / $span)) for a, b in
           zip([${o0[0]}, ${o0[1]}, ${o0[2]}], [${o1[0]}, ${o1[1]}, ${o1[2]}])),
       "published": $published, "accepted": $accepted, "delivered": $delivered,
       "not accepted": $published - min($published, $accepted),
       # More accepted than published: the local broker redelivered messages weir already had
       # (they get new sequences, so the sink cannot see them as duplicates).
       "accepted beyond published": $accepted - min($published, $accepted),
       "lost": $accepted - min($accepted, $delivered), "gaps": $gaps, "order": $order, "dups": $dups}
open(sys.argv[1], "a").write(json.dumps(row) + "\n")
print(row, file=sys.stderr)
PY
  done
}

latency() {
  local format rate=5000 duration=${E2E_LATENCY_SECONDS:-30}
  for format in protobuf json; do
    log "latency: $rate readings/s, $sensors sensors, $duration s, upstream $format"
    begin "latency-$format" --format "$format"
    local agent=${pids[run]} c0 c1 t0 t1 published
    if [ "$format" = json ]; then
      # Independent observers on both brokers; -q 1 like the agent and the sink.
      mosquitto_sub -h 127.0.0.1 -p "$local_port" -q 1 -t 'sensors/#' -F '%U %p' \
        >"$dir/local.cap" 2>"$dir/cap-local.log" &
      pids[cap_local]=$!
      mosquitto_sub -h 127.0.0.1 -p "$up_port" -q 1 -t 'weir/+/data' -F '%U %p' \
        >"$dir/upstream.cap" 2>"$dir/cap-up.log" &
      pids[cap_up]=$!
    fi
    c0=$(cpu_ticks "$agent")
    t0=$(now)
    local saved_per_sim=$per_sim saved_batch=$batch
    per_sim=$rate # one simulator process: 1,000 sensors really are 1,000 ids
    batch=1       # one reading per message: the captures match readings message by message
    start_sims "$rate" duration "${duration}s"
    per_sim=$saved_per_sim
    batch=$saved_batch
    wait_sims
    t1=$(now)
    c1=$(cpu_ticks "$agent")
    local rss accepted
    rss=$(peak_rss_kb "$agent")
    wait_for 10 status_ge ingest.readings "$published" || true
    accepted=$(status ingest.readings)
    wait_delivered "$accepted" 30 >/dev/null
    sleep 1.5 # the captures' last lines (mosquitto_sub flushes per message)
    finish
    sink_figures
    check_delivery "$accepted"
    local p50 p99 exact='{}'
    read -r p50 p99 < <(jget "$dir/sink.json" lanes.readings.latency.p50_ms \
      lanes.readings.latency.p99_ms)
    if [ "$format" = json ]; then exact=$(py latency "$dir/local.cap" "$dir/upstream.cap" 2); fi
    python3 - "$results" <<PY
import json, sys
exact = json.loads('$exact')
row = {"scenario": "latency ($format upstream)", "target/s": $rate, "sims": 1, "qos": $qos,
       "published/s": round($published / ($t1 - $t0)),
       "sink p50 ms (event time)": $p50, "sink p99 ms (event time)": $p99,
       "p50 ms (matched)": exact.get("p50_ms", "-"), "p99 ms (matched)": exact.get("p99_ms", "-"),
       "max ms (matched)": exact.get("max_ms", "-"), "matched": exact.get("matched", "-"),
       "unmatched": exact.get("unmatched", "-"),
       "agent CPU %": round(100.0 * ($c1 - $c0) / $ticks_per_s / ($t1 - $t0), 1),
       "peak RSS MB": round($rss / 1024, 1),
       "published": $published, "accepted": $accepted, "delivered": $delivered,
       "gaps": $gaps, "order": $order, "dups": $dups}
open(sys.argv[1], "a").write(json.dumps(row) + "\n")
print(row, file=sys.stderr)
PY
  done
}

drain() {
  log "drain: $drain_count readings into weir run with the upstream down"
  dir=$work/drain
  mkdir -p "$dir"
  read -r local_port up_port < <(py ports 2)
  # The upstream keeps sessions on disk (persistence true): the sink's and that of a
  # mosquitto_sub which timestamps each envelope's arrival, so that whatever weir sends after the
  # restart is queued for both even if weir reconnects first. (status.json and the sink report are
  # rewritten once a second: too coarse for a drain that may take a second or two.)
  start_broker local "$local_port"
  start_broker upstream "$up_port" persist
  start_sink
  wait_for 10 sink_subscribed || {
    log "weir sink did not subscribe"
    exit 1
  }
  local cap_id="bench-cap-$$"
  mosquitto_sub -h 127.0.0.1 -p "$up_port" -c -i "$cap_id" -q 1 -t 'weir/+/data' -E
  stop upstream 10 # SIGTERM: mosquitto saves the sessions
  # A short reconnect backoff, or the drain time would mostly be the agent's backoff.
  start_agent --set upstream.backoff_max_ms=500
  wait_for 15 local_ready || {
    log "weir run did not connect to the local broker: $(tail -5 "$dir/run.log")"
    exit 1
  }
  local agent=${pids[run]} t_fill0 t_fill1
  t_fill0=$(now)
  start_sims 50000 count "$drain_count"
  wait_sims
  wait_for 120 status_ge store.readings_committed "$published" || {
    log "only $(status store.readings_committed) of $published committed after 120 s"
    exit 1
  }
  t_fill1=$(now)
  local committed c0 c1 t0 t_sink
  committed=$(status store.readings_committed)
  log "drain: $committed committed ($(calc "round($committed / ($t_fill1 - $t_fill0))")/s filling); starting the upstream"
  c0=$(cpu_ticks "$agent")
  t0=$(now)
  start_broker upstream "$up_port" persist
  mosquitto_sub -h 127.0.0.1 -p "$up_port" -c -i "$cap_id" -q 1 -t 'weir/+/data' -F '%U %l' \
    >"$dir/upstream.cap" 2>"$dir/cap.log" &
  pids[cap]=$!
  t_sink=$(wait_delivered "$committed" 120)
  c1=$(cpu_ticks "$agent")
  # The capture has them too by now, give or take its last lines: wait until it stops growing.
  local size=-1
  until [ "$size" = "$(stat -c %s "$dir/upstream.cap")" ]; do
    size=$(stat -c %s "$dir/upstream.cap")
    sleep 0.3
  done
  local rss
  rss=$(peak_rss_kb "$agent")
  finish
  sink_figures
  check_delivery "$committed"
  # The agent's own log line gives the reconnect time to the millisecond.
  local connected_at
  connected_at=$(sed -n 's/^\([0-9T:.-]*Z\) I forward: upstream connected after.*/\1/p' "$dir/run.log" |
    tail -1)
  python3 - "$results" "$dir/upstream.cap" "$connected_at" <<PY
import datetime, json, sys
arrivals = [float(line.split()[0]) for line in open(sys.argv[2]) if line.strip()]
t0 = $t0
connected = None
if sys.argv[3]:
    connected = datetime.datetime.strptime(sys.argv[3], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
first, last = (arrivals[0], arrivals[-1]) if arrivals else (None, None)
t_sink = None if "$t_sink" == "timeout" else float("$t_sink") - t0
row = {"scenario": "drain", "backlog": $committed, "batch": $batch,
       "fill/s": round($committed / ($t_fill1 - $t_fill0)),
       "envelopes": len(arrivals),
       "connect s": round(connected - t0, 2) if connected else "-",
       "last arrival s": round(last - t0, 2) if last else "-",
       "drain/s (from upstream start)": round($committed / (last - t0)) if last else "-",
       "drain/s (from reconnect)": round($committed / (last - connected)) if last and connected else "-",
       "drain/s (first to last arrival)": round($committed / max(1e-3, last - first)) if last else "-",
       "sink has all s (report, +1 s)": round(t_sink, 2) if t_sink else "timeout",
       "agent CPU % (drain)": round(100.0 * ($c1 - $c0) / $ticks_per_s / (last - t0), 1) if last else "-",
       "peak RSS MB": round($rss / 1024, 1),
       "delivered": $delivered, "gaps": $gaps, "order": $order, "dups": $dups}
open(sys.argv[1], "a").write(json.dumps(row) + "\n")
print(row, file=sys.stderr)
PY
}

# Reconnect time after the upstream returns (issue 10, item 8): a steady 500 readings/s, and
# E2E_OUTAGES (10) outages of E2E_OUTAGE_S (30) seconds each. The delay of one outage runs from
# the moment the upstream broker is started again to weir's log line "upstream connected after"
# (millisecond stamps; weir publishes its backlog in the same loop turn).
reconnect() {
  local outages=${E2E_OUTAGES:-10} outage_s=${E2E_OUTAGE_S:-30} i
  log "reconnect: $outages outages of $outage_s s at 500 readings/s"
  begin "reconnect-$outage_s"
  local saved_per_sim=$per_sim
  per_sim=500
  start_sims 500 duration "$((outages * (outage_s + 5) + 30))s"
  per_sim=$saved_per_sim
  local starts=()
  for ((i = 0; i < outages; i++)); do
    sleep 3
    stop upstream 10
    sleep "$outage_s"
    starts+=("$(now)")
    start_broker upstream "$up_port"
    wait_for 60 agent_ready || log "outage $i: weir did not reconnect within 60 s"
  done
  for ((i = 0; i < nsims; i++)); do stop "sim$i" 3; done
  finish
  python3 - "$results" "$dir/run.log" "$outage_s" "${starts[@]}" <<'PY'
import datetime, json, re, statistics, sys
results, run_log, outage_s, starts = sys.argv[1], sys.argv[2], sys.argv[3], [float(x) for x in sys.argv[4:]]
connected = []
for line in open(run_log):
    m = re.match(r"^(\S+Z) I forward: upstream connected after", line)
    if m:
        connected.append(datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp())
delays = []
for t0 in starts:
    later = [c for c in connected if c >= t0]
    delays.append(round(min(later) - t0, 3) if later else None)
ok = sorted(d for d in delays if d is not None)
row = {"scenario": f"reconnect after {outage_s} s outages", "outages": len(starts),
       "median s": round(statistics.median(ok), 2) if ok else "-",
       "p90 s": round(ok[int(0.9 * (len(ok) - 1))], 2) if ok else "-",
       "max s": round(ok[-1], 2) if ok else "-",
       "never": sum(1 for d in delays if d is None),
       "all s": " ".join(str(d) for d in delays)}
open(results, "a").write(json.dumps(row) + "\n")
print(row, file=sys.stderr)
PY
}

[ "$scenario" = sustained ] || [ "$scenario" = all ] && sustained
[ "$scenario" = latency ] || [ "$scenario" = all ] && latency
[ "$scenario" = drain ] || [ "$scenario" = all ] && drain
[ "$scenario" = reconnect ] || [ "$scenario" = all ] && reconnect

echo
echo "weir end-to-end benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo), $(uname -r)"
echo "load average (1/5/15 min): $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after" \
  "(other work on the machine skews every figure)"
echo "weir: $weir, built $(date -u -r "$weir" +%Y-%m-%dT%H:%MZ)" \
  "(repo HEAD $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?'))"
[ -z "$anomalies" ] || echo "ANOMALIES (files kept):$anomalies"
echo "command: $0 $*"
echo
py table "$results"
