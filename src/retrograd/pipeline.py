"""The reverse-mode pipeline, top to bottom: a user's function in, the generated primal and adjoint source out.

    Differentiable._compile(kinds)                       api.py: per argument kinds, guarded and cached
      generate(fn, wrt, kinds, target, ...)              here
        new_program(target, remat)                       a Program (reverse/program.py): `fn` and the
                                                         variant of every helper it calls
        program.variant(fn, wrt, kinds)                  names the variant, then runs for it (and for each
          transform_function(...)                        helper, as its call is emitted) the passes:
            read           the source, parsed and checked (frontend/source.py, frontend/checks.py)
            inline         argument-writing helpers inlined, reserved names renamed (frontend/inline.py)
            split_aux      has_aux: `return value, aux` split (frontend/aux.py)
            normalise      one operation per statement, calls classified (frontend/normalize.py)
            finish_return  the function ends by returning a name
            count_trips    loops that may stop early count their trips
            analyse        activity, kinds, dtypes, aliases, ... (analysis/)
            statements     each statement's adjoint block and its checks (reverse/transform.py)
            plan_loops     remat: which loops re-run their steps or are checkpointed (remat/loops.py)
            plan_tape      what the primal pushes and the adjoint pops or receives (analysis/tape.py)
            emit           the primal's and the adjoint's statements (reverse/transform.py)
            recompute      remat="recompute": cheap values the adjoint recomputes (remat/values.py)
            assemble       the primal, adjoint (and plain call) functions; saved values nothing reads dropped
        instrument         rg.debug_nans(): a check after each statement (debug.py)
        lower              the target's lowering pass, unparse, the line map (Program.source)
      target.load(program, source, title)                backends/<name>.py, through api.py
      target.wrap(fn, source, program.line_locations)    the entry points api.py calls: errors raised while
                                                         they run name the user's line (reverse/sourcemap.py)

Each pass below says what it reads and what it establishes.  The passes from `analyse` on read and write the
attributes of one `FunctionTransform` (the function's state while it is transformed), named in each
docstring.
"""
from dataclasses import dataclass

import gast

from . import astutil as A
from .analysis.activity import activity, int_names, varied_names, walk_stmts
from .analysis.aliases import check_aliases
from .analysis.dtypes import float_arrays, int_arrays
from .analysis.kinds import SCALAR, infer_kinds
from .analysis.tape import plan_tape as _plan_tape
from .errors import RetrogradError, UnsupportedSyntaxError
from .frontend.aux import split_aux_returns
from .frontend.checks import check_function
from .frontend.inline import inline_writers
from .frontend.normalize import Normalizer
from .frontend.resolve import Callees, local_names
from .frontend.source import read_function
from .remat.loops import plan_loops as _plan_loops
from .remat.values import plan_recompute
from .reverse.program import Program, title_of
from .reverse.transform import FunctionTransform, _rename_reserved


# ---- the whole program ------------------------------------------------------------------------------------

def generate(fn, wrt, kinds, *, target, remat=None, aux=False, checks=None, namespace_key=""):
    """(program, primal name, adjoint name, source) of `fn` differentiated with respect to the parameters
    `wrt`, for arguments of `kinds` ({param: kind}), generated for `target` (a backend's name).  checks:
    rg.debug_nans()'s mode, or None.  namespace_key: what the code reads of the user's namespaces (it keys
    Numba's compiled module).  Every failure is a RetrogradError naming the function."""
    program = new_program(target, remat)
    program.namespace_key = namespace_key
    title = title_of(fn)
    try:
        primal, adjoint, _ = program.variant(fn, set(wrt), kinds, aux=aux)
        if checks:
            instrument(program, checks)
        source = lower(program, title)
    except RetrogradError:
        raise
    except RecursionError:
        raise RetrogradError(f"{title}: recursion too deep while generating code") from None
    except Exception as exc:  # an internal failure must not surface as a bare KeyError
        raise RetrogradError(f"internal error while differentiating {title}: "
                             f"{type(exc).__name__}: {exc}",
                             hint="please report this with the function's source") from exc
    return program, primal, adjoint, source


def new_program(target="python", remat=None):
    """An empty Program for `target` whose variants are made by `transform_function`."""
    return Program(target=target, remat=remat, transform=transform_function)


def instrument(program, checks):
    """Reads every generated function tree and the transforms' user statements; inserts rg.debug_nans()'s
    checks (debug.py) before the source is rendered."""
    from .debug import instrument as insert_checks
    insert_checks(program, checks)


def lower(program, title):
    """Reads the program's function trees; runs the target's lowering pass over each (Traits.lower),
    unparses the module and establishes `program.line_locations` (generated line -> the user's line).
    Returns the source."""
    return program.source(title)


# ---- one function ----------------------------------------------------------------------------------------

def transform_function(program, fn, active, primal_name, adjoint_name, kinds=None, aux=False):
    """The FunctionTransform of `fn` with the parameters `active` differentiated, its functions built:
    `tf.primal_def`, `tf.adjoint_def` and (a target that compiles the plain call) `tf.plain_def`."""
    src = read(fn)
    inline(src)
    aux_name = split_aux(src) if aux else None
    unit = normalise(src)
    unit.aux = aux_name
    finish_return(unit)
    count_trips(unit)
    tf = FunctionTransform(program, unit, primal_name, adjoint_name)
    analyse(tf, active, kinds or {})
    statements(tf)
    plan_tape(tf, plan_loops(tf))
    primal_body, adjoint_body, saved = emit(tf)
    saved = recompute(tf, saved)
    tf.primal_def, tf.adjoint_def = assemble(tf, primal_body, adjoint_body, saved)
    return tf


@dataclass
class Function:
    """A user's function as the passes before `analyse` leave it."""
    fn: object
    src: object                 # frontend.source.FunctionSource: the user's text, file and lines
    callees: object = None      # frontend.resolve.Callees: what each call calls
    node: object = None         # the normalised gast.FunctionDef (src.node)
    names: object = None        # the allocator of fresh names (no clash with the user's)
    params: list = None
    locals: set = None          # parameters and every name the body assigns (generated ones included)
    result: str = None          # the name the function returns
    aux: str = None             # has_aux: the name of the aux value


def read(fn):
    """Reads `fn`'s source file; establishes a FunctionSource (frontend/source.py: the parsed tree with
    each node's user line) of a function retrograd can differentiate (frontend/checks.py: constructs it
    refuses are refused here, at their line)."""
    src = read_function(fn)
    check_function(src)
    return src


def inline(src):
    """Rewrites `src.node` in place: a statement-level call of a helper that writes into its argument is
    replaced by the helper's body (its writes become this function's own), and locals named like the
    generated code's helpers (`unbroadcast = ...`) are renamed."""
    inline_writers(src)
    _rename_reserved(src)


def split_aux(src):
    """has_aux: rewrites each `return value, aux` so that only `value` is differentiated; returns the
    aux variable's name."""
    return split_aux_returns(src)


def normalise(src):
    """Rewrites `src.node` into the normalised form the transform reads (frontend/normalize.py: one
    operation per statement, early exits as flags, `x += e` as `x = x + e`, library spellings unified);
    establishes the Function (its callees classified, its parameters and locals)."""
    callees = Callees(src, local_names(src.node))
    norm = Normalizer(src, callees)
    node = norm.run()
    params = [a.id for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    return Function(fn=src.fn, src=src, callees=callees, node=node, names=norm.names, params=params,
                    locals=set(params) | A.assigned_names(node.body))


def finish_return(unit):
    """Establishes `unit.result`: the function's last statement returns a name (`return a * b` becomes
    `result = a * b; return result`); refuses a function that does not end by returning a value."""
    body = unit.node.body
    if not body or not isinstance(body[-1], gast.Return) or body[-1].value is None:
        raise unit.src.error(UnsupportedSyntaxError, body[-1] if body else unit.node,
                             f"`{unit.node.name}` must end by returning a value", construct="return",
                             hint="return the value to differentiate, e.g. `return loss`")
    ret = body[-1]
    if not isinstance(ret.value, gast.Name):
        tmp = unit.names.fresh("result")
        assign = A.copy_loc(gast.Assign(targets=[A.name(tmp, True)], value=ret.value, type_comment=None), ret)
        ret.value = A.name(tmp)
        body.insert(len(body) - 1, assign)
        unit.locals.add(tmp)
    unit.result = ret.value.id


def count_trips(unit):
    """A loop that may stop early (a `while`, a `break` or `return` inside) counts its trips, for the
    adjoint to run as many: establishes `loop._rg_trips` (the counter's name) and the counter's statements
    (marked `_rg_trip_count`: read by the adjoint only)."""
    unit.node.body = _add_trip_counters(unit, unit.node.body)


def _add_trip_counters(unit, stmts):
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            s.body = _add_trip_counters(unit, s.body)
            s.orelse = _add_trip_counters(unit, s.orelse)
        elif isinstance(s, (gast.For, gast.While)):
            s.body = _add_trip_counters(unit, s.body)
            early = isinstance(s, gast.While) or any(getattr(n, "_rg_exit", False) for n in gast.walk(s))
            if early:
                trips = unit.names.fresh("trips")
                s._rg_trips = trips
                init, step = A.copy_loc(A.quote(f"{trips} = 0"), s), A.copy_loc(A.quote(f"{trips} = {trips} + 1"), s)
                for st in init + step:
                    st._rg_trip_count = True     # read by the adjoint only
                out += init
                s.body = step + s.body
                unit.locals.add(trips)
        out.append(s)
    return out


def analyse(tf, active, kinds):
    """Reads the normalised function and the argument kinds; establishes on `tf`:
      active_params  the differentiated parameters, in order
      active         names whose value depends differentiably on them and reaches the result (activity)
      varied         names that depend on them at all (varied_names)
      ints, int_vars names that hold integers (an index, a count); `ints` also the scalars used as indices
      bools          names only ever assigned comparisons or bools
      kinds          name -> scalar / array:<rank> / other (analysis/kinds.py)
      float_arrays   arrays whose dtype is float (analysis/dtypes.py)
      int_arrays     names that only hold integer index arrays (`np.array([k, 0])`, `np.arange(i, n)`)
      view_checks    id(statement) -> the view pairs to check at run time (analysis/aliases.py)
      inplace        active names whose cotangent is updated in place (never aliased)
      redefined      names that can hold an older value when assigned (their cotangent is reset there)
      first_defs     ids of the assignments that certainly bind a name for the first time"""
    tf.active_params = [p for p in tf.params if p in active]
    tf.active = activity(tf.node, tf.active_params, tf.callees, tf.result)
    tf.varied = varied_names(tf.node, tf.active_params, tf.callees)
    tf.ints = int_names(tf.node)
    tf.int_vars = set(tf.ints)
    tf.bools = tf._bool_vars()
    tf.int_arrays = int_arrays(tf.node, tf.int_vars, tf.callees, walk_stmts)
    tf.kinds = infer_kinds(tf.node, {p: kinds.get(p) for p in tf.params}, tf.callees, walk_stmts, tf.int_arrays)
    tf.ints |= {n for n, k in tf.kinds.items() if k == "scalar"}   # a scalar used as an index is an int
    tf.float_arrays = float_arrays(tf.node, tf.active_params, tf.callees, walk_stmts)
    tf.view_checks = {id(d): pairs for d, pairs in check_aliases(
        tf.node, tf.src, UnsupportedSyntaxError, tf.locals,
        scalars={n for n, k in tf.kinds.items() if k == "scalar"}, callees=tf.callees)}
    tf.inplace = tf._inplace_vars()
    tf.redefined = redefined_names(tf.node.body, tf.params)
    tf.first_defs = first_definitions(tf.node.body, tf.params)


def redefined_names(body, params):
    """Variables that can hold an older value when they are assigned (parameters, several definitions,
    definitions in loops): only their cotangents need resetting at a definition."""
    count = {p: 1 for p in params}

    def visit(stmts, in_loop):
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                n = s.targets[0].id
                count[n] = count.get(n, 0) + (2 if in_loop else 1)
            elif isinstance(s, gast.If):
                visit(s.body, in_loop)
                visit(s.orelse, in_loop)
            elif isinstance(s, (gast.For, gast.While)):
                visit(s.body, True)
    visit(body, False)
    return {n for n, c in count.items() if c > 1}


def first_definitions(body, params):
    """ids of the assignments that certainly bind a name for the first time (no older value to reset)."""
    seen, first = set(params), set()

    def visit(stmts, in_loop):
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                n = s.targets[0].id
                if n not in seen and not in_loop:
                    first.add(id(s))
                seen.add(n)
            elif isinstance(s, gast.If):
                visit(s.body, in_loop)
                visit(s.orelse, in_loop)
            elif isinstance(s, (gast.For, gast.While)):
                if isinstance(s, gast.For):
                    seen.add(s.target.id)
                visit(s.body, True)
    visit(body, False)
    return first


def statements(tf):
    """Reads each statement with the facts of `analyse`; establishes `tf.blocks` (id -> the adjoint block
    of a simple statement, before tape decisions) and `tf.info` (id -> what it defines and what its adjoint
    reads), and refuses what has no derivative (rule checks, index data, helpers writing their arguments,
    the target's limits)."""
    tf.analyse(tf.node.body)


def plan_loops(tf):
    """remat: reads the loops, the remat option and the kinds; returns {id(loop): plan} of the loops whose
    steps the adjoint re-runs (remat="recompute", or by default where that keeps no state: plan_tape decides)
    or reverses by binomial checkpointing (remat.Checkpoint)."""
    return _plan_loops(tf.node, tf.remat, tf._cheap, tf._check_rerun, lambda n: tf.kinds.get(n) == SCALAR)


def plan_tape(tf, remat_loops):
    """Reads `tf.info` and the remat loops; establishes `tf.plan` (analysis/tape.py: which values are
    pushed before they are overwritten, which the adjoint receives at the end, which may be unbound) and
    `tf.remat_loops`."""
    tf.plan = _plan_tape(tf.node, tf.info, tf.params, remat_loops, tf.callees)
    tf.remat_loops = tf.plan.remat


def emit(tf):
    """Reads the blocks and the tape plan; returns the primal's statements (the user's, with pushes), the
    adjoint's (the blocks in reverse, with pops and restores) and the sorted names the adjoint receives."""
    return tf.emit()


def recompute(tf, saved):
    """remat="recompute": the cheap values among `saved` that the adjoint recomputes instead of receiving
    (remat/values.py); establishes `tf._recomputed` (the statements it re-runs first) and returns what is
    still saved."""
    tf._recomputed = []
    if tf.remat != "recompute":
        return saved
    chosen, reads, tf._recomputed = plan_recompute(tf.node, set(saved), tf.params, tf.kinds, tf._cheap)
    return sorted((set(saved) - chosen) | reads)   # parameters cost nothing: the caller holds them


def assemble(tf, primal_body, adjoint_body, saved):
    """The primal and adjoint function trees (and, where Traits.plain_call, `tf.plain_def`: the forward
    without tape); what the simplified adjoint no longer reads is not saved."""
    return tf.assemble(primal_body, adjoint_body, saved)
