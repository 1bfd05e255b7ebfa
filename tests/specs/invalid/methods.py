from fairfight import method


@method
def erase(ctx):
    raise RuntimeError("never run: the corpus only validates")


plain = erase

THRESHOLD = 0.5  # a value: naming it as a method is an error
