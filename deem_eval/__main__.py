"""`python -m deem_eval` (used under accelerate launch / torchrun)."""

from .cli import main

main()
