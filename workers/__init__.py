"""The probe-and-transcode worker (issue 4). Nothing runs here yet: completed uploads are recorded by
the gateway and will be consumed from the queue once the worker lands."""
