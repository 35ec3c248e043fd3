"""How a created-day partition's window key is spelled.

The extractor names windows with it and the manifest repair recognises partitions by it, so the
landing does not have to import the extractor to read its own folder names.
"""

PARTITION_PREFIX = "created_day="
