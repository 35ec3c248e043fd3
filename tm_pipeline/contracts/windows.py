"""How a created-day partition's window key is spelled.

The extractor names windows with it and the manifest repair recognises partitions by it, so the
landing does not have to import the extractor to read its own folder names.
"""

PARTITION_PREFIX = "created_day="

# Webhook pushes sealed into the lake (tm_pipeline/webhooks/seal.py) are extractions of this window.
# It moves no polling watermark (pushes cover only the statuses the account chose) and is never
# re-extracted from the API: a damaged push extraction is sealed again from the push log.
PUSH_WINDOW = "push"
