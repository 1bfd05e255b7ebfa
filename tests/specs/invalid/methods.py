from fairfight import method


@method
def erase(ctx):
    raise RuntimeError("never run: the corpus only validates")


plain = erase
