"""Input limits of the rooms domain, in one place (documented in ``docs/protocol.md``)."""

MAX_MESSAGE_SOURCE_BYTES = 16 * 1024
MAX_TOPIC_CHARS = 60
MAX_CLIENT_ID_CHARS = 64
MAX_EMOJI_CHARS = 16
MAX_MOVE_MESSAGES = 500
DEFAULT_TOPIC = "Discussion générale"
# Moderation (rooms/actions/moderation.py).
MAX_REASON_CHARS = 500
MAX_DESCRIPTION_CHARS = 2_000
MAX_AGENDA_BYTES = 16 * 1024
MAX_SLOW_MODE_SECS = 3_600
MAX_MUTE_SECS = 30 * 24 * 3_600
MAX_PINS = 50
