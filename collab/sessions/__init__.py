"""Live coding sessions: sessions, participants and join-link invitations."""
