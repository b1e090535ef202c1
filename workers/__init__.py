"""The probe-and-transcode worker: ``python -m workers`` takes completed uploads from the job queue,
probes them, judges them against Mux's standard-input rules, stores an H.264/AAC master and publishes
the Asset's state and events."""
