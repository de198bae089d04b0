"""Send one out-of-range vitals reading and wait for its alert on the alert topic.

skaffold's verify step runs this in the vitals-producer image (/opt/vitals/bin/verify-alert.py);
it needs the Kafka client and vitals_common, nothing else. The patient must have a contact row in
Hive and an age band in the HBase thresholds, otherwise the reading is unrouted and no alert comes.
Exit status: 0 when the alert arrived, 1 when it did not arrive in time, 2 for invalid settings.

Variables: KAFKA_* as for every stage, and
  VERIFY_PATIENT_ID     patient of the reading (default 1)
  VERIFY_VITAL          vital sign of the reading (default heart_rate)
  VERIFY_VALUE          its value (default 250, above every heart-rate band of the capstone table)
  VERIFY_VITALS_TOPIC   topic the producer writes (default vitals)
  VERIFY_ALERT_TOPIC    topic the alerter writes (default doctor)
  VERIFY_TIMEOUT_S      seconds to wait for the alert (default 180)
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import datetime, timezone

from confluent_kafka import OFFSET_END, Consumer, KafkaException, Producer, TopicPartition

from vitals_common.events import VitalsEvent
from vitals_common.settings import KafkaSettings


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


def start_at_end(consumer: Consumer, topic: str, timeout_s: float) -> None:
    """Assign every partition of the topic at its current end, so only new alerts are read."""
    metadata = consumer.list_topics(topic, timeout=timeout_s)
    partitions = metadata.topics[topic].partitions
    if not partitions:
        raise SystemExit(f"verify-alert: topic {topic} not found; start the alerter first")
    consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])


def main() -> int:
    try:
        value = float(setting("VERIFY_VALUE", "250"))
        timeout_s = float(setting("VERIFY_TIMEOUT_S", "180"))
    except ValueError as exc:
        print(f"verify-alert: invalid number: {exc}", file=sys.stderr)
        return 2
    kafka = KafkaSettings().client_config()
    alert_topic = setting("VERIFY_ALERT_TOPIC", "doctor")
    event = VitalsEvent(
        event_id=str(uuid.uuid4()),
        patient_id=setting("VERIFY_PATIENT_ID", "1"),
        event_time=datetime.now(timezone.utc),
        source="skaffold-verify",
        **{setting("VERIFY_VITAL", "heart_rate"): value},
    )

    consumer = Consumer({**kafka, "group.id": f"verify-{event.event_id}", "enable.auto.commit": False})
    try:
        start_at_end(consumer, alert_topic, timeout_s=30)
        producer = Producer({**kafka, "acks": "all"})
        producer.produce(setting("VERIFY_VITALS_TOPIC", "vitals"), key=event.kafka_key(), value=event.to_json())
        if producer.flush(30) != 0:
            print("verify-alert: the reading was not delivered to Kafka within 30 s", file=sys.stderr)
            return 1
        print(f"verify-alert: sent event {event.event_id}; waiting for its alert on {alert_topic}", flush=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = consumer.poll(1.0)
            if message is None or message.error():
                continue
            alert = json.loads(message.value())
            if alert.get("event_id") == event.event_id:
                print(f"verify-alert: alert {alert.get('alert_id')} arrived for event {event.event_id}", flush=True)
                return 0
    except KafkaException as exc:
        print(f"verify-alert: Kafka failed: {exc}", file=sys.stderr)
        return 1
    finally:
        consumer.close()
    print(f"verify-alert: no alert for event {event.event_id} within {timeout_s:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
