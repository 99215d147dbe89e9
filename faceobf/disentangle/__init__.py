"""Stage 1, chapter 1: a face split into landmarks, context (the face ellipse blacked out) and 40 attributes."""
