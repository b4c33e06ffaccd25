"""More SAMPLES / CREATE_PAYLOADS / SERVICE_CASES registrations (imported by samples.py).

Kept separate so engineers working on different apps can register without editing one file.
"""
