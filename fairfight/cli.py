"""The command line: parse options, call a core function, exit with its code. Nothing heavy here."""
from __future__ import annotations

import sys

import click

from . import __version__

_SET_HELP = "Override a spec value before validation: dotted PATH=VALUE (VALUE is YAML), e.g. evaluate.seeds=3."


class SpecPath(click.ParamType):
    """A spec file; a folder stands for the spec.yaml in it (what `fairfight init FOLDER` writes)."""

    name = "spec"

    def convert(self, value, param, ctx):
        from pathlib import Path

        path = Path(value)
        if path.is_dir():
            if (path / "spec.yaml").is_file():
                return str(path / "spec.yaml")
            self.fail(f"'{value}' is a folder with no spec.yaml in it: give the spec's file", param, ctx)
        return value


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="fairfight")
def cli():
    """fairfight: run an interpretability method against the baselines under declared rules,
    and say per claim whether it holds.

    \b
    Start with:   fairfight init my-task/spec.yaml
    Check a spec: fairfight validate my-task/spec.yaml
    """


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=SpecPath())
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--data", is_flag=True, help="Also load the data (files, hub datasets, builtins) and check the spec "
              "against it: the columns named in where, evaluate, rules.data and metric arguments, every split, "
              "and the evaluation groups of the selection split. No model is loaded.")
@click.option("--no-data", is_flag=True, help="The fast static check: do not read even the headers of local data "
              "files (by default the columns of jsonl/csv/parquet files are read from their first row, header or "
              "schema and checked).")
def validate(specs, overrides, fmt, strict, data, no_data):
    """Check task specs without running anything (exit 0 valid, 2 invalid).

    Every problem in a file is reported at once, each with file:line:col, a snippet and,
    for unknown names, a suggestion. A method whose uses exceed the rules is an error here
    (eval refuses to start on it unless given --allow-refused).
    """
    from .commands.validate import ValidateOptions, run_validate

    if data and no_data:
        raise click.UsageError("--data and --no-data: choose one")
    sys.exit(run_validate(ValidateOptions(list(specs), list(overrides), fmt, strict,
                                          True if data else (False if no_data else "local"))))


def _eval_options(fn):
    fn = click.option("--member", "members", multiple=True, metavar="NAME", help="A family spec: only these members "
                      "(repeatable; names as `fairfight plan` lists them, e.g. 'cue=0.5'). Claims over the members "
                      "range over those run.")(fn)
    fn = click.option("--only", multiple=True, metavar="NAME", help="Only these contenders (repeatable). A method's "
                      "name runs the method alone: name each control to run it too, e.g. --only shift "
                      "--only 'random_model(shift)'.")(fn)
    fn = click.option("--seeds", type=click.IntRange(1, 1000), help="Override evaluate.seeds.")(fn)
    fn = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)(fn)
    return click.argument("spec", type=SpecPath())(fn)


@cli.command("eval")
@_eval_options
@click.option("--out", type=click.Path(file_okay=False), help="Bundle folder (default: runs/<task>-<time>). "
              "Re-run with the same --out to resume an interrupted eval.")
@click.option("--executor", type=click.Choice(["inline", "local", "slurm", "ray"]), help="local (default): a fresh "
              "process per run; inline: this process, for debugging (no run-time isolation); slurm (submitit) and "
              "ray: on a cluster (extras fairfight[slurm] / fairfight[ray]; the bundle must be on a shared filesystem).")
@click.option("--executor-option", "executor_options", multiple=True, metavar="KEY=VALUE",
              help="An option of the slurm or ray executor (e.g. partition=gpu, cluster=local, address=auto); "
                   "overrides execution.slurm / execution.ray. Never part of a run key.")
@click.option("--workers", type=click.IntRange(1, 256), help="Runs at once (local executor).")
@click.option("--cache", type=click.Path(file_okay=False), metavar="DIR", help="The cache of finished runs and "
              "forward passes shared across evals (runs with the same key are reused, passes over the same model "
              "and texts are read, not recomputed). Default: $FAIRFIGHT_CACHE, else $XDG_CACHE_HOME/fairfight or "
              "~/.cache/fairfight. Never inside the bundle; see `fairfight cache`.")
@click.option("--no-cache", is_flag=True, help="Share nothing: forward passes go to a temporary folder removed at "
              "the end, finished runs are not stored for other evals (resuming the same --out still works).")
@click.option("--no-progress", is_flag=True, help="Print one line per finished run instead of a progress bar.")
@click.option("--allow-refused", is_flag=True, help="Run the rest when a contender would be refused (its uses "
              "exceed the rules). Without it eval refuses to start, before any compute, whenever validate would.")
def eval_(spec, overrides, seeds, only, members, out, executor, executor_options, workers, cache, no_cache,
          no_progress, allow_refused):
    """Run every contender of SPEC under its rules and write a results bundle.

    The spec and its data are checked first (as validate --data does): nothing is computed
    unless they pass.

    
    Exit codes: 0 every claim supported;
                1 some claim not supported or inconclusive;
                2 invalid spec, or a refused contender (at plan or at run time),
                  or an invalid claim (a contender it needs is missing, e.g. left out by --only);
                3 a run failed (or eval itself crashed);
                130 interrupted (re-run with the same --out to resume).
    """
    from .commands.eval import EvalOptions, run_eval

    sys.exit(run_eval(EvalOptions(spec, list(overrides), out, executor, workers, seeds, list(only), cache,
                                  not no_progress, _key_values(executor_options), allow_refused, no_cache,
                                  list(members))))


@cli.command()
@_eval_options
@click.option("--out", type=click.Path(file_okay=False), help="The search's folder (default: runs/<task>-search): "
              "OUT/discovery and OUT/confirmation are family bundles, OUT/search.json the picks and verdicts.")
@click.option("--workers", type=click.IntRange(1, 256), help="Runs at once (local executor).")
@click.option("--cache", type=click.Path(file_okay=False), metavar="DIR", help="The cache shared across evals "
              "(as for eval).")
@click.option("--no-progress", is_flag=True, help="Print one line per finished run instead of a progress bar.")
@click.option("--allow-refused", is_flag=True, help="Run the rest when a contender would be refused.")
def search(spec, overrides, seeds, only, members, out, workers, cache, no_progress, allow_refused):
    """Search a family for the member where each 'in some member' claim holds, then confirm it
    on fresh data seeds the search never saw (family.search in the spec). Only the confirmation
    counts for the verdict.

    Exit codes: 0 every searched claim confirmed; 1 some claim not confirmed; 2 invalid spec or no
    search to do; 3 a run failed.
    """
    from .commands.eval import EvalOptions
    from .commands.search import run_search

    sys.exit(run_search(EvalOptions(spec, list(overrides), out, None, workers, seeds, list(only), cache,
                                    not no_progress, {}, allow_refused, False, list(members))))


def _key_values(items) -> dict:
    import yaml

    out = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--executor-option")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise click.BadParameter(f"{item!r}: the value is not YAML ({getattr(exc, 'problem', None) or exc})",
                                     param_hint="--executor-option") from None
    return out


@cli.command()
@_eval_options
def plan(spec, overrides, seeds, only, members):
    """Print the runs SPEC compiles to (contenders x seeds, grants, keys) and the refusals; run nothing.

    Exit codes: 0 every contender can run; 2 invalid spec, or a contender would be refused.
    """
    from .commands.eval import EvalOptions, run_plan

    sys.exit(run_plan(EvalOptions(spec, list(overrides), seeds=seeds, only=list(only), members=list(members))))


@cli.command()
@click.argument("spec", required=False, type=SpecPath())
def baselines(spec):
    """List the built-in baselines, skylines and controls: what each does, what it uses, and its
    parameters (type, default, meaning; also in docs/baselines.md).

    With SPEC, also show what each would be granted under that spec's rules and the parameters it
    would get (or why it cannot run).
    """
    from .commands.baselines import run_baselines

    sys.exit(run_baselines(spec))


@cli.command()
@click.option("--path", "show_path", is_flag=True, help="Print where the schema file is installed instead.")
def schema(show_path):
    """Print the spec JSON Schema (draft-07), for editors and tools."""
    from .spec.schema import schema_path, schema_text

    click.echo(schema_path() if show_path else schema_text(), nl=show_path)


@cli.command()
@click.argument("path", default="spec.yaml", type=click.Path(dir_okay=True))
@click.option("--tier", type=click.Choice(["fair-fight", "no-holds-barred", "in-the-wild"]), default="fair-fight",
              show_default=True, help="The kind of fight.")
@click.option("--schema-url", default=None, help="What the editor modeline points at (default: the installed schema file).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def init(path, tier, schema_url, force):
    """Write a commented starter spec (and its methods.py) that validates as-is.

    PATH is the spec file to write (.yaml), or a folder to write spec.yaml into.
    """
    from .commands.init import InitOptions, run_init

    sys.exit(run_init(InitOptions(path, tier, schema_url, force)))


@cli.command()
@click.argument("bundle", type=click.Path(exists=True))
@click.option("--rerun", type=click.IntRange(0, 10_000), default=0, metavar="K",
              help="Re-execute K randomly chosen runs (needs the spec's model and data) and compare predictions.")
@click.option("--spec", type=click.Path(dir_okay=False), help="The spec file, if its folder has moved since eval.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def audit(bundle, rerun, spec, fmt):
    """Check a results bundle (its folder, or the archive `fairfight pack` wrote): integrity, recomputed metrics and verdicts, declared vs used
    affordances, refused or failed runs and trials (with their reasons), invalid claims, required
    baselines and controls, tuning parity.

    Exit codes: 0 clean; 1 findings; 2 BUNDLE is not a readable bundle.
    """
    from .commands.audit import run_audit_command

    sys.exit(run_audit_command(bundle, rerun=rerun, spec=spec, fmt=fmt))


@cli.command()
@click.argument("bundle", type=click.Path())
@click.option("--out", type=click.Path(file_okay=False), metavar="DIR", help="For an archive: where to write the "
              "reports (default: ARCHIVE-report/ beside it).")
def report(bundle, out):
    """Re-render BUNDLE/report.md and BUNDLE/report.html from BUNDLE/results.json (nothing is rerun).

    BUNDLE may also be an archive written by `fairfight pack`.
    Exit codes: 0 written; 2 BUNDLE has no readable results.json.
    """
    from .commands.report import run_report

    sys.exit(run_report(bundle, out))


@cli.command()
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False), metavar="FILE", help="The archive to write "
              "(default: BUNDLE.tar.gz beside the bundle folder).")
@click.option("--spec", type=click.Path(exists=True, dir_okay=False), help="The spec file, if its folder has moved "
              "since eval.")
@click.option("--max-file-size", metavar="SIZE", help="Files of the spec's folder larger than this (e.g. 100M) are "
              "named with their sha256 instead of packed (default 25 MB).")
def pack(bundle, out, spec, max_file_size):
    """Write BUNDLE as one archive to publish, and print its sha256.

    The archive holds the bundle (results, runs, provenance, manifest, reports), the spec and the
    files it names from its folder: the methods' source, knowledge artifacts and local data
    (each larger than --max-file-size named with its sha256 instead). The model is not packed.
    BUNDLE may be a family's (family.json): every member's bundle and the files of every
    member's spec go in.
    `fairfight audit` and `fairfight report` accept the archive as they accept the folder.
    Exit codes: 0 written; 2 bad input.
    """
    from .commands.pack import run_pack

    sys.exit(run_pack(bundle, out=out, spec=spec, max_file=max_file_size))


@cli.command()
@click.option("--cache", type=click.Path(file_okay=False), metavar="DIR", help="The cache folder (default: "
              "$FAIRFIGHT_CACHE, else $XDG_CACHE_HOME/fairfight or ~/.cache/fairfight).")
@click.option("--clear", is_flag=True, help="Remove everything in it (finished runs, forward passes).")
@click.option("--prune", is_flag=True, help="Evict least recently used entries until it is within --max-size.")
@click.option("--max-size", metavar="SIZE", help="The cap for --prune, e.g. 5G (default: $FAIRFIGHT_CACHE_MAX_SIZE, "
              "else 20 GB, the cap every eval trims to).")
def cache(cache, clear, prune, max_size):
    """Show the cache shared by evals (where, how big, what is in it), or clear or prune it.

    Finished runs and forward passes live here, outside every bundle. Each eval trims it to its
    size cap afterwards, least recently used first. Exit codes: 0 done; 2 bad input.
    """
    from .commands.cache import run_cache

    sys.exit(run_cache(cache, clear=clear, prune=prune, max_size=max_size))


@cli.command()
@click.argument("spec", type=SpecPath())
@click.option("--sae", required=True, metavar="PATH", help="The SAE: a folder (SAELens or dictionary_learning "
              "layout), or the name of a knowledge artifact of the rules that holds one.")
@click.option("--split", required=True, metavar="NAME", help="A split the rules grant with its text column: the "
              "cards read only granted text.")
@click.option("--layer", required=True, type=int, metavar="L", help="The layer the SAE reads (as in activations; "
              "-1 is the last).")
@click.option("--concept", metavar="NAME", help="A knowledge item of the rules (a word list, or a concept name such "
              "as gender) or a built-in concept: each card shows the share of its activation on the concept's "
              "words, and the cards are sorted by it.")
@click.option("--out", default="feature-cards", show_default=True, type=click.Path(file_okay=False),
              help="Folder for cards.html and cards.json.")
@click.option("--limit", type=click.IntRange(1), metavar="N", help="Read at most N texts of the split.")
@click.option("--latent", "latents", multiple=True, type=click.IntRange(0), metavar="I",
              help="Make cards for these latents only (repeatable).")
@click.option("--cards", type=click.IntRange(1), default=100, show_default=True, help="How many cards.")
@click.option("--top", type=click.IntRange(1, 100), default=8, show_default=True,
              help="Top-activating contexts per card (one per text).")
@click.option("--min-fires", type=click.IntRange(1), default=3, show_default=True,
              help="With --concept: a latent needs this many firing tokens to get a card.")
@click.option("--device", help="Where the model runs (default: the spec's execution.device).")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=_SET_HELP)
def features(spec, sae, split, layer, concept, out, limit, latents, cards, top, min_fires, device, overrides):
    """Write feature cards for an SAE's latents: firing rate, top-activating tokens in context,
    share of activation on a concept's words, decoder norm; as OUT/cards.html (a page where a
    person ticks the latents to keep and downloads selection.json) and OUT/cards.json.

    Runs on the trusted side and reads only text the spec's rules grant. A selection made on the
    page is knowledge: grant it in rules.knowledge next to the SAE (docs/feature-cards.md).

    Exit codes: 0 written; 2 a bad spec, SAE, split, layer or concept.
    """
    from .commands.features import FeaturesOptions, run_features

    sys.exit(run_features(FeaturesOptions(spec, sae, split, layer, out, concept, limit, tuple(latents), cards, top,
                                          min_fires, device, tuple(overrides))))


@cli.command("hash")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
def hash_(paths):
    """Print the sha256 of each knowledge artifact (a file, or a folder such as an SAE): the one
    to write as rules.knowledge.NAME.sha256 and as a selection.json's sae.sha256.

    A file's hash is that of its bytes; a folder's names every file's relative path and hash,
    so the same files elsewhere have the same hash. With several PATHS, one "HASH  PATH" line each.

    Exit codes: 0 printed; 2 a PATH is neither a file nor a folder.
    """
    from .commands.hash import run_hash

    sys.exit(run_hash(list(paths)))


def main(argv=None):
    from .errors import FairfightError

    try:
        cli.main(args=argv, prog_name="fairfight", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except FairfightError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - no input may end in a traceback (nor in exit 1, "not supported")
        import os
        import traceback

        if os.environ.get("FAIRFIGHT_TRACEBACK"):
            traceback.print_exc()
        click.echo(f"error: fairfight stopped on an unexpected {type(exc).__name__}: {exc}. This is a bug: please "
                   "report it (set FAIRFIGHT_TRACEBACK=1 to see the traceback)", err=True)
        sys.exit(3)
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
