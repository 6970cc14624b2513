"""The test kit: what the tests and the benchmarks share, and the product never imports.

- ``client``: a Python aiortc client of the ``/ws`` protocol, a paced file as its
  microphone (``LoopbackClient``, ``PacedFileTrack``);
- ``evaluation``: speaking a file to a live server and scoring what comes back (latency
  per phrase, WER, chrF, BLEU: the benchmarks' figures and the CI floors, one code);
- ``janus_process``: a real Janus started with a generated, offline-safe configuration;
- ``janus_admin``: a client of Janus's Admin API (what is left alive inside Janus);
- ``janus``: what the Janus tests share (the ``needs_janus`` marker, publishing and
  subscribing with aiortc);
- ``scripted_stt``: a fake STT that hears the words put in its audio;
- ``tiny_models``: tiny real MT models (SentencePiece, a random CTranslate2 Transformer)
  built on the spot, without a download.

Tests import it as ``support`` (pytest puts ``tests/`` on ``sys.path``: rootdir
``conftest.py``, no ``tests/__init__.py``); a benchmark inserts ``tests/`` next to ``src/``.
Scoring needs the ``dev`` extra (jiwer, sacrebleu).
"""
