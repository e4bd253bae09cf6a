"""Reading the SNS alerts a workflow publishes: the topic delivers to an SQS queue, and the
notebook reads the queue. (On AWS you would rather subscribe your e-mail; see `subscribe_email`.)
"""
from __future__ import annotations

import json
import time

import pandas as pd

from . import config
from .names import Names


def queue_name(aws) -> str:
    return f"{aws.settings.topic}-inbox"


def subscribe_queue(aws) -> str:
    """Create the inbox queue, let the topic write to it, subscribe it. Idempotent; returns the
    queue's URL."""
    sqs, sns = aws.client("sqs"), aws.client("sns")
    topic_arn = Names.from_aws(aws).topic_arn
    url = sqs.create_queue(QueueName=queue_name(aws))["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={config.SERIES_TAG_KEY: config.SERIES_TAG_VALUE})
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    # A queue accepts SNS deliveries only if its policy allows this topic to send.
    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}}}]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return url


def subscribe_email(aws, address: str) -> str:
    """Subscribe an e-mail address to the alerts. AWS sends a confirmation mail first: no alert
    reaches the address until you click its link."""
    sns = aws.client("sns")
    sns.subscribe(TopicArn=Names.from_aws(aws).topic_arn, Protocol="email", Endpoint=address)
    return f"Confirmation requested: open the mail AWS sent to {address} and confirm."


def receive(aws, at_least: int = 0, timeout: float = 10) -> pd.DataFrame:
    """Take every alert waiting in the inbox (waiting up to `timeout` s for at least `at_least`
    of them); each is removed from the queue once read."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name(aws))["QueueUrl"]
    alerts, deadline = [], time.monotonic() + timeout
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       WaitTimeSeconds=0 if len(alerts) >= at_least else 1)
        batch = messages.get("Messages", [])
        for message in batch:
            envelope = json.loads(message["Body"])
            alerts.append({"subject": envelope.get("Subject"), "message": envelope["Message"],
                           "sent": envelope.get("Timestamp")})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not batch and (len(alerts) >= at_least or time.monotonic() > deadline):
            return pd.DataFrame(alerts, columns=["subject", "message", "sent"])
