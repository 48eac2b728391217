"""SIGKILL while every broker is down, with records read and not
acknowledged: after the brokers are back, the next start sends them all.
Nothing is lost, so the checkpoint written before the kill had not passed a
record Kafka had not acknowledged."""

from harness import main, wait_for
from kafkalib import KafkaRestartCase


class Kill(KafkaRestartCase):
    def test_sigkill_during_outage_replays_at_next_start(self):
        def stop(kb, a):
            kb.all_down()
            wait_for(lambda: "cannot deliver" in a.log(), 15, what="the sink noticing")
            a.kill()
            kb.all_up()
        self.run_case(stop)


if __name__ == "__main__":
    main()
