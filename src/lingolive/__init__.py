"""LingoLive: self-hosted real-time speech-to-speech translation over WebRTC."""

__version__ = "0.1.0"
