#!/bin/sh
# Runs the demo: the simulator on a free loopback port, and sinch-logd with
# conf/demo.conf streaming every function's logs to the terminal and into
# demo-out/records.jsonl. Ctrl-C stops both.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${SINCH_BIN_DIR:-$top/build/bin}
DEMO_DIR=${DEMO_DIR:-$top/demo-out}
mkdir -p "$DEMO_DIR"
export DEMO_DIR

"$bin/sinch-fn-sim" --listen 127.0.0.1:0 --rate 2 >"$DEMO_DIR/sim.out" 2>"$DEMO_DIR/sim.log" &
sim=$!
trap 'kill $sim 2>/dev/null || true' EXIT INT TERM
i=0
until [ -s "$DEMO_DIR/sim.out" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "demo: the simulator did not start (see $DEMO_DIR/sim.log)" >&2; exit 1; }
	sleep 0.1
done
SIM_URL=$(head -n 1 "$DEMO_DIR/sim.out" | sed 's/^listening on //')
# The simulator's built-in demo credentials, passed the way real ones are.
SINCH_KEY_ID=demo-key
SINCH_KEY_SECRET=demo-secret
export SIM_URL SINCH_KEY_ID SINCH_KEY_SECRET
echo "demo: simulator at $SIM_URL; records go to the terminal and $DEMO_DIR/records.jsonl" >&2
echo "demo: the agent's own log is $DEMO_DIR/agent.log; Ctrl-C to stop" >&2
# The agent runs in its own session, so a Ctrl-C at the terminal reaches it
# once, through this script, and not a second time from the terminal (a
# second signal makes it exit without draining). A SIGINT or SIGTERM sent to
# this script alone stops the agent the same way.
setsid "$bin/sinch-logd" -c "$top/conf/demo.conf" 2>"$DEMO_DIR/agent.log" &
agent=$!
trap 'kill -TERM $agent 2>/dev/null || true' INT TERM
status=0
# wait returns early when a trapped signal arrives: wait again for the exit.
while kill -0 $agent 2>/dev/null; do
	wait $agent && status=0 || status=$?
done
kill $sim 2>/dev/null || true
wait $sim 2>/dev/null || true
if [ "${status:-0}" -ne 0 ]; then
	echo "demo: sinch-logd exited with status $status; the end of its log:" >&2
	tail -n 20 "$DEMO_DIR/agent.log" >&2
fi
exit "${status:-0}"
