#!/usr/bin/env python3
"""Static, network-free check of the Yocto layer packaging/meta-weir (issue 16).

    .ci/yocto-layer-check.py [LAYER]              check the layer; exit 1 on any error
    .ci/yocto-layer-check.py --self-test [LAYER]  also check that broken copies of it fail

A full `bitbake -p` needs bitbake, openembedded-core and meta-openembedded, which CI cannot
download (packaging/meta-weir/README.md says how it was run by hand). This script catches, without
them, what a change to the layer most often breaks:

  * syntax, the way bitbake's parser reads it (the statement forms of bitbake's ConfHandler and
    BBHandler: assignments with their operators and flags, include/require/inherit, addtask,
    shell and python functions closed by a lone '}', `def` blocks, backslash continuations);
    every other line is "unparsed", as bitbake says. Python functions and `${@...}` expressions
    must compile; shell functions must pass `sh -n`;
  * the old override syntax: bitbake >= 2.0 rejects `_append`/`_prepend`/`_remove`, and
    silently accepts `SYSTEMD_SERVICE_${PN}` and its kind (then the unit is never enabled), so
    both are errors here;
  * `inherit`s that name a class of oe-core or meta-oe in both scarthgap and wrynose;
  * SRC_URI: git URLs with protocol= and branch= (or nobranch=1), local files that exist, no
    `S = "${WORKDIR}/git"` (walnascar and later reject it at unpack); SRCREV a full commit hash;
  * DEPENDS (also in :append, PACKAGECONFIG and bb.utils.contains) naming only recipes in the
    list kept in the layer's README ("Recipes the layer depends on"), which says which release it
    was taken from. `bitbake -p` would not catch a misspelt DEPENDS; `bitbake -g` would;
  * layer.conf: the collection, its pattern, LAYERSERIES_COMPAT with the current LTS, and
    LAYERDEPENDS on openembedded-layer;
  * the recipe's duties: LICENSE, SYSTEMD_SERVICE:<pkg> with systemd, USERADD_PACKAGES and
    USERADD_PARAM:<pkg> with useradd, run-ptest with ptest.

It knows only the variables a recipe assigns itself; ${...} of anything else stays unexpanded and
is not judged.
"""
import ast
import os
import re
import shutil
import subprocess
import sys
import tempfile

# Classes of oe-core (meta/classes, classes-recipe, classes-global) and meta-oe present on both
# the scarthgap and the wrynose branch heads (2026-08), the releases the layer claims.
KNOWN_CLASSES = set("""
allarch archiver autotools autotools-brokensep baremetal-image base bash-completion bin_package
binconfig binconfig-disabled breakpad buildhistory buildstats buildstats-summary cargo
cargo-update-recipe-crates cargo_c cargo_common ccache ccmake chrpath cmake cmake-qemu cml1
compress_doc copyleft_compliance copyleft_filter core-image cpan cpan-base cpan_build
create-spdx create-spdx-3.0 create-spdx-image-3.0 create-spdx-sdk-3.0 cross cross-canadian
crosssdk debian deploy devicetree devshell devtool-source devupstream distro_features_check
distrooverrides dos2unix externalsrc extrausers features_check fontcache fs-uuid gconf gettext
gi-docgen gio-module-cache github-releases gitpkgv gitver gnomebase go go-mod go-ptest
go-vendor goarch gobject-introspection gobject-introspection-data grub-efi grub-efi-cfg
gsettings gtk-doc gtk-icon-cache gtk-immodules-cache image image-artifact-names image-buildinfo
image-combined-dbg image-container image-live image-postinst-intercepts image_types
image_types_sparse image_types_verity image_types_wic insane itstool kernel kernel-arch
kernel-artifact-names kernel-devicetree kernel-grub kernel-module-split kernel-uboot
kernel-uimage kernel-yocto kernelsrc lib_package libc-package license license_image linux-dummy
linux-kernel-base linuxloader live-vm-common logging machine_kernel_pr manpages mcextend meson
meson-routines metadata_scm mime mime-xdg mirrors module module-base multilib multilib_global
multilib_header multilib_script native nativesdk nopackages nospdx npm overlayfs overlayfs-etc
own-mirrors package package_deb package_ipk package_pkgdata package_rpm packagedata
packagegroup patch perl-version perlnative pixbufcache pkgconfig populate_sdk populate_sdk_base
populate_sdk_ext prexport primport ptest ptest-cargo ptest-gnome ptest-perl pypi python3-dir
python3native python3targetconfig python_flit_core python_hatchling python_maturin
python_mesonpy python_pep517 python_poetry_core python_pyo3 python_setuptools3_rust
python_setuptools_build_meta qemu qemuboot recipe_sanity relative_symlinks relocatable
remove-libtool report-error rm_work rm_work_and_downloads rootfs-postcommands rootfs_deb
rootfs_ipk rootfs_rpm rootfsdebugfiles rust rust-common rust-target-config sanity scancode
scons setuptools3 setuptools3-base setuptools3_legacy sign_ipk sign_package_feed sign_rpm
signing siteinfo socorro-syms spdx-common sstate staging syslinux systemd systemd-boot
systemd-boot-cfg terminal testexport testimage testsdk texinfo toaster toolchain-scripts
toolchain-scripts-base typecheck uboot-config uboot-extlinux-config uboot-sign uninative
update-alternatives update-rc.d upstream-version-is-even useradd useradd-staticids useradd_base
utility-tasks utils vala vex waf xmlcatalog yocto-check-layer
""".split())

REQUIRED_SERIES = "wrynose"  # the current LTS must be in LAYERSERIES_COMPAT

# Statement forms, after bitbake's parse_py/ConfHandler.py and BBHandler.py (bitbake 2.18).
ASSIGN_RE = re.compile(r"""
    ^(?P<exp>export\s+)?
    (?P<var>[a-zA-Z0-9\-_+.${}/~:]*?)
    (\[(?P<flag>[a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@/]*)\])?
    \s*(?P<op>:=|\?\?=|\?=|\+=|=\+|=\.|\.=|=)\s*
    (?!'[^']*'[^']*'$)(?!"[^"]*"[^"]*"$)
    (?P<apo>['"])(?P<value>.*)(?P=apo)$""", re.X)
FUNC_START_RE = re.compile(
    r"(((?P<py>python(?=(\s|\()))|(?P<fr>fakeroot(?=\s)))\s*)*"
    r"(?P<func>[\w\.\-\+\{\}\$:]+)?\s*\(\s*\)\s*{$")
DEF_RE = re.compile(r"def\s+(\w+).*:")
KEYWORD_RE = re.compile(
    r"(include|require|include_all|inherit|inherit_defer|EXPORT_FUNCTIONS|addtask|deltask|"
    r"addhandler|addpylib|addfragments|unset)\s+\S|export\s+[a-zA-Z0-9\-_+.${}/~]+$")
# Per-package variables: with `_${PN}` instead of `:${PN}` bitbake parses them as an unrelated
# variable and the setting silently does nothing.
PER_PACKAGE_VARS = ("SYSTEMD_SERVICE SYSTEMD_AUTO_ENABLE SYSTEMD_PACKAGES RDEPENDS RRECOMMENDS "
                    "RSUGGESTS RPROVIDES RCONFLICTS RREPLACES FILES CONFFILES USERADD_PARAM "
                    "GROUPADD_PARAM GROUPMEMS_PARAM ALLOW_EMPTY INSANE_SKIP SUMMARY DESCRIPTION "
                    "PKG LICENSE SECTION INITSCRIPT_NAME INITSCRIPT_PARAMS pkg_postinst "
                    "pkg_postinst_ontarget pkg_preinst pkg_prerm pkg_postrm").split()
OLD_PER_PACKAGE_RE = re.compile(r"^(%s)_(\$\{PN\}|\$\{BPN\})" %
                                "|".join(sorted(PER_PACKAGE_VARS, key=len, reverse=True)))


class Recipe:
    """What one file assigns, inherits and defines; errors collected as 'file:line: text'."""

    def __init__(self, path):
        self.path = path
        self.vars = {}  # name (with overrides) -> list of (op, value, line)
        self.flags = {}  # (name, flag) -> (value, line)
        self.inherits = []  # (class, line)
        self.functions = {}  # name -> (kind, body, line)
        self.errors = []

    def error(self, line, text):
        self.errors.append("%s:%d: %s" % (self.path, line, text))

    def value(self, name):
        """The plain value of NAME (its last =, ?=, ??= or :=), with ${X} of known variables
        expanded; None when unset."""
        entries = [v for v in self.vars.get(name, []) if v[0] in ("=", ":=", "?=", "??=")]
        if not entries:
            return None
        hard = [v for v in entries if v[0] in ("=", ":=")]
        return self.expand((hard or entries)[-1][1])

    def all_values(self, name):
        """Every value given to NAME or NAME:append/:prepend/+= (for DEPENDS-like lists)."""
        out = []
        for var, entries in self.vars.items():
            if var == name or var.startswith(name + ":"):
                out += [(self.expand(v[1]), v[2]) for v in entries]
        return out

    def expand(self, text, depth=0):
        if depth > 10:
            return text

        def repl(m):
            inner = self.value(m.group(1)) if m.group(1) in self.vars else None
            return m.group(0) if inner is None else self.expand(inner, depth + 1)

        return re.sub(r"\$\{([A-Za-z0-9_\-]+)\}", repl, text)


def python_exprs(value):
    """The bodies of ${@...} in value (braces balanced), and whether all were closed."""
    out, i = [], 0
    while True:
        i = value.find("${@", i)
        if i < 0:
            return out, True
        depth, j = 1, i + 3
        quote = None
        while j < len(value) and depth:
            c = value[j]
            if quote:
                if c == quote:
                    quote = None
            elif c in "'\"":
                quote = c
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            j += 1
        if depth:
            return out, False
        out.append(value[i + 3:j - 1])
        i = j


def check_value(rec, line, var, value):
    exprs, closed = python_exprs(value)
    if not closed:
        rec.error(line, "%s: unclosed ${@...}" % var)
    for e in exprs:
        try:
            compile(e.strip(), rec.path, "eval")
        except SyntaxError as err:
            rec.error(line, "%s: python expression does not compile: %s" % (var, err.msg))
    plain = re.sub(r"\$\{@.*", "", value)
    if plain.count("${") != plain.count("}") and "${" in plain:
        opened = len(re.findall(r"\$\{", plain))
        if opened > plain.count("}"):
            rec.error(line, "%s: unbalanced ${" % var)


def check_name(rec, line, var):
    if not var.startswith("__anon_") and re.search(r"_(append|prepend|remove)(\b|_|$)", var):
        rec.error(line, "%s: old override syntax (bitbake rejects it): use ':append', "
                  "':prepend', ':remove'" % var)
    m = OLD_PER_PACKAGE_RE.match(var.split(":")[0])
    if m:
        rec.error(line, "%s: old override syntax: bitbake reads it as another variable and the "
                  "setting does nothing; use %s:%s" % (var, m.group(1), m.group(2)))


def parse(path):
    """Reads PATH line by line as bitbake's BBHandler.feeder does: function bodies verbatim up to
    a line that is exactly '}', `def` bodies while lines are indented, blank or comments,
    backslash continuations joined elsewhere (a comment inside one is fatal in bitbake)."""
    rec = Recipe(path)
    with open(path, encoding="utf-8") as f:
        raw = f.read().split("\n")
    infunc, inpython, body, residue = None, None, [], []
    for num, line in enumerate(raw, 1):
        s = line.rstrip()
        if infunc:
            if s == "}":
                rec.functions[infunc[0]] = (infunc[1], "\n".join(body), infunc[2])
                infunc, body = None, []
            else:
                body.append(s)
            continue
        if inpython:
            if re.match(r"(\s+.*)|(^$)|(^#)", s):
                body.append(s)
                continue
            rec.functions[inpython[0]] = ("def", "\n".join(body), inpython[1])
            inpython, body = None, []
        if s.startswith("#") and residue and not residue[0][1].startswith("#"):
            rec.error(num, "a comment in the middle of a multiline expression (bitbake: fatal)")
        if residue and residue[0][1].startswith("#") and not s.startswith("#"):
            rec.error(residue[0][0], "a multiline expression that is partly commented out "
                      "(bitbake: fatal)")
        if s.endswith("\\"):
            residue.append((num, s[:-1]))
            continue
        start = residue[0][0] if residue else num
        s = "".join(t for _, t in residue) + s
        residue = []
        if not s or s.startswith("#"):
            continue
        m = FUNC_START_RE.match(s)
        if m:
            name = m.group("func") or "__anon_%d" % start
            check_name(rec, start, name)
            infunc = (name, "python" if m.group("py") else "shell", start)
            continue
        m = DEF_RE.match(s)
        if m:
            inpython, body = (m.group(1), start), [s]
            continue
        statement(rec, start, s)
    if infunc:
        rec.error(infunc[2], "function %s is never closed (a line with only '}')" % infunc[0])
    if inpython:
        rec.functions[inpython[0]] = ("def", "\n".join(body), inpython[1])
    check_functions(rec)
    return rec


def statement(rec, num, s):
    m = ASSIGN_RE.match(s)
    if m:
        var, value = m.group("var"), m.group("value")
        check_name(rec, num, var)
        check_value(rec, num, var, value)
        if m.group("flag"):
            rec.flags[(var, m.group("flag"))] = (value, num)
        else:
            rec.vars.setdefault(var, []).append((m.group("op"), value, num))
        return
    if KEYWORD_RE.match(s):
        if s.startswith("inherit"):
            rec.inherits += [(c, num) for c in s.split()[1:]]
        return
    rec.error(num, "unparsed line: %s" % s.strip()[:80])


def check_functions(rec):
    for name, (kind, body, line) in rec.functions.items():
        if kind in ("python", "def"):
            # As bitbake compiles it (parse/ast.py): the body as written under a def line.
            src = body if kind == "def" else "def %s(d):\n%s\n    pass\n" % (
                re.sub(r"\W", "_", name), body)
            try:
                compile(src, rec.path, "exec")
            except SyntaxError as err:
                rec.error(line + (err.lineno or 1) - 1, "python function %s does not compile: "
                          "%s" % (name, err.msg))
        else:
            # ${@...} and ${VAR} are bitbake's; only the shell grammar is judged here.
            script = body
            for e in python_exprs(body)[0]:
                script = script.replace("${@" + e + "}", "x")
            res = subprocess.run(["sh", "-n"], input=script, text=True, capture_output=True)
            if res.returncode != 0 and re.search(r":(append|prepend)\b", name):
                # do_patch:append() { ... } extends a python task and is python itself.
                try:
                    compile("def f(d):\n%s\n    pass\n" % body, rec.path, "exec")
                    continue
                except SyntaxError:
                    pass
            if res.returncode != 0:
                rec.error(line, "shell function %s: %s" % (name, res.stderr.strip()[:200]))


def known_recipes(layer):
    """The recipe names in the README's table "Recipes the layer depends on" (first column)."""
    readme = os.path.join(layer, "README.md")
    names, in_table = set(), False
    with open(readme, encoding="utf-8") as f:
        for line in f:
            if line.startswith("## ") or line.startswith("### "):
                in_table = "Recipes the layer depends on" in line
            elif in_table and line.startswith("| `"):
                names.add(line.split("`")[1])
    return names


def contains_args(expr):
    """Literal names a `bb.utils.contains(...)`-like expression can yield."""
    out = []
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return out
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) >= 4:
            for arg in node.args[2:4]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    out += arg.value.split()
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "filter":
            pass  # bb.utils.filter('DISTRO_FEATURES', 'x', d): a feature, not a recipe
    return out


def dep_names(value):
    names = []
    for e in python_exprs(value)[0]:
        names += contains_args(e)
    names += re.sub(r"\$\{@.*?\}(?=\s|$)", " ", value).split()
    return [n for n in names if "${" not in n and not n.startswith("virtual/")]


def check_recipe(rec, layer, known):
    d = os.path.dirname(rec.path)
    for cls, line in rec.inherits:
        if "${" not in cls and cls not in KNOWN_CLASSES:
            rec.error(line, "inherit %s: no such class in oe-core or meta-oe "
                      "(scarthgap and wrynose)" % cls)
    if rec.value("LICENSE") is None:
        rec.error(1, "LICENSE is not set")
    elif rec.value("LICENSE") != "CLOSED" and rec.value("LIC_FILES_CHKSUM") is None:
        rec.error(1, "LIC_FILES_CHKSUM is not set")
    # SRC_URI and SRCREV.
    src = rec.value("SRC_URI") or ""
    for entry in src.split():
        url = entry.split(";")[0]
        params = dict(p.split("=", 1) for p in entry.split(";")[1:] if "=" in p)
        if url.startswith("git://") or url.startswith("gitsm://"):
            if params.get("protocol") not in ("https", "ssh", "file", "http"):
                rec.error(1, "SRC_URI %s: git URLs need protocol=https (or ssh)" % url)
            if "branch" not in params and params.get("nobranch") != "1":
                rec.error(1, "SRC_URI %s: git URLs need branch= (or nobranch=1)" % url)
        elif url.startswith("file://"):
            name = url[len("file://"):]
            if not any(os.path.exists(os.path.join(d, sub, name))
                       for sub in ("files", "weir", rec_bpn(rec))):
                rec.error(1, "SRC_URI %s: no such file beside the recipe" % url)
        elif url.startswith(("http://", "https://")) and url.endswith(".git"):
            rec.error(1, "SRC_URI %s: a git repository must be fetched with git://" % url)
        elif "${" not in url:
            if not re.match(r"^[a-z]+://", url):
                rec.error(1, "SRC_URI entry %s is not a URL" % entry)
    if "git://" in src:
        srcrev = rec.value("SRCREV")
        if srcrev is None:
            rec.error(1, "SRC_URI fetches git but SRCREV is not set")
        elif "AUTOREV" in srcrev:
            rec.error(1, "SRCREV uses AUTOREV: parsing would need the network")
        elif not re.fullmatch(r"[0-9a-f]{40}", srcrev):
            rec.error(1, "SRCREV %r is not a full 40-hex commit id" % srcrev)
    s_val = rec.value("S") or ""
    if s_val.endswith("/git"):
        rec.error(1, "S = %s: walnascar and later reject ${WORKDIR}/git at do_unpack; use "
                  "destsuffix=${BP} and the default S" % s_val)
    # DEPENDS and PACKAGECONFIG's build dependencies.
    for value, line in rec.all_values("DEPENDS"):
        for name in dep_names(value):
            if name not in known:
                rec.error(line, "DEPENDS names %s, which is not in the README's list of recipes "
                          "(bitbake -g would say: Nothing PROVIDES '%s')" % (name, name))
    for (var, flag), (value, line) in rec.flags.items():
        if var == "PACKAGECONFIG":
            fields = value.split(",")
            if len(fields) > 6:
                rec.error(line, "PACKAGECONFIG[%s] has %d fields (at most 6)" % (flag, len(fields)))
            if len(fields) > 2:
                for name in dep_names(rec.expand(fields[2])):
                    if name not in known:
                        rec.error(line, "PACKAGECONFIG[%s] depends on %s, which is not in the "
                                  "README's list of recipes" % (flag, name))
    inherited = {c for c, _ in rec.inherits}
    pkgs_vars = set(rec.vars)
    if "systemd" in inherited and not any(v.startswith("SYSTEMD_SERVICE:") for v in pkgs_vars):
        rec.error(1, "inherits systemd but sets no SYSTEMD_SERVICE:<package>")
    if "useradd" in inherited:
        if "USERADD_PACKAGES" not in pkgs_vars:
            rec.error(1, "inherits useradd but sets no USERADD_PACKAGES")
        if not any(v.startswith("USERADD_PARAM:") for v in pkgs_vars):
            rec.error(1, "inherits useradd but sets no USERADD_PARAM:<package>")
    if "ptest" in inherited:
        if "file://run-ptest" not in src:
            rec.error(1, "inherits ptest but SRC_URI has no file://run-ptest")


def rec_bpn(rec):
    return os.path.basename(rec.path).split("_")[0].split(".")[0]


def check_layer_conf(rec):
    coll = (rec.value("BBFILE_COLLECTIONS") or "").split()
    if not coll:
        for op, value, _ in rec.vars.get("BBFILE_COLLECTIONS", []):
            coll += value.split()
    if not coll:
        rec.error(1, "layer.conf: BBFILE_COLLECTIONS is not set")
        return
    c = coll[0]
    if "BBFILE_PATTERN_" + c not in rec.vars:
        rec.error(1, "layer.conf: BBFILE_PATTERN_%s is not set" % c)
    compat = (rec.value("LAYERSERIES_COMPAT_" + c) or "").split()
    if REQUIRED_SERIES not in compat:
        rec.error(1, "layer.conf: LAYERSERIES_COMPAT_%s does not name %s (the current LTS)" %
                  (c, REQUIRED_SERIES))
    if "openembedded-layer" not in (rec.value("LAYERDEPENDS_" + c) or "").split():
        rec.error(1, "layer.conf: LAYERDEPENDS_%s lacks openembedded-layer (meta-oe)" % c)


def check(layer):
    """All errors of the layer at LAYER, as strings."""
    errors = []
    conf = os.path.join(layer, "conf", "layer.conf")
    if not os.path.exists(conf):
        return ["%s: missing" % conf]
    rec = parse(conf)
    check_layer_conf(rec)
    errors += rec.errors
    known = known_recipes(layer)
    if not known:
        errors.append("%s: no table 'Recipes the layer depends on' in README.md" % layer)
    recipes = 0
    for root, _, files in sorted(os.walk(layer)):
        for f in sorted(files):
            p = os.path.join(root, f)
            if f.endswith((".bb", ".bbappend", ".inc", ".bbclass")):
                rec = parse(p)
                if f.endswith(".bb"):
                    recipes += 1
                    check_recipe(rec, layer, known)
                errors += rec.errors
            elif f.endswith(".conf") and p != conf:
                errors += parse(p).errors
    if recipes == 0:
        errors.append("%s: no recipes" % layer)
    return errors


# Broken copies for --self-test: (what, file under the layer, text, replacement, expected error).
MUTATIONS = [
    ("old override syntax on SYSTEMD_SERVICE", "recipes-weir/weir/weir_git.bb",
     "SYSTEMD_SERVICE:${PN} =", "SYSTEMD_SERVICE_${PN} =", "old override syntax"),
    ("old _append operator", "recipes-weir/weir/weir_git.bb",
     "DEPENDS:append =", "DEPENDS_append =", "old override syntax"),
    ("misspelt DEPENDS", "recipes-weir/weir/weir_git.bb", "cli11", "cli-11", "Nothing PROVIDES"),
    ("unknown class", "recipes-weir/weir/weir_git.bb", "inherit cmake", "inherit cmaek",
     "no such class"),
    ("SRCREV a branch name", "recipes-weir/weir/weir_git.bb",
     'WEIR_SRCREV ?= "', 'WEIR_SRCREV ?= "main" #"', "not a full 40-hex"),
    ("git URL without protocol", "recipes-weir/weir/weir_git.bb",
     ";protocol=https;", ";", "protocol=https"),
    ("unclosed quote", "recipes-weir/weir/weir_git.bb", 'SECTION = "net"', 'SECTION = "net',
     "unparsed line"),
    ("python syntax error", "recipes-weir/weir/weir_git.bb", "    import json",
     "    import json(", "does not compile"),
    ("unclosed shell function", "recipes-weir/weir/weir_git.bb",
     "'${WEIR_ENV_FILE}' '${WEIR_STATE_DIR}' >> $dropin\n}", "'${WEIR_ENV_FILE}' "
     "'${WEIR_STATE_DIR}' >> $dropin\n", "do_install:append"),
    ("missing LAYERSERIES_COMPAT", "conf/layer.conf", "LAYERSERIES_COMPAT_weir",
     "#LAYERSERIES_COMPAT_weir", "LAYERSERIES_COMPAT"),
    ("S at ${WORKDIR}/git", "recipes-weir/weir/weir_git.bb", 'PV = "0.1.0+git"',
     'PV = "0.1.0+git"\nS = "${WORKDIR}/git"', "reject ${WORKDIR}/git"),
]


def self_test(layer):
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for what, rel, old, new, expected in MUTATIONS:
            copy = os.path.join(tmp, "meta-weir")
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(layer, copy)
            path = os.path.join(copy, rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            if old not in text:
                print("self-test: %s: the layer no longer contains %r" % (what, old))
                failures += 1
                continue
            with open(path, "w", encoding="utf-8") as f:
                f.write(text.replace(old, new, 1))
            errors = check(copy)
            if any(expected in e for e in errors):
                print("self-test: %s: caught" % what)
            else:
                print("self-test: %s: NOT caught (errors: %s)" % (what, errors or "none"))
                failures += 1
    return failures


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    here = os.path.dirname(os.path.abspath(__file__))
    layer = args[0] if args else os.path.join(here, "..", "packaging", "meta-weir")
    errors = check(layer)
    for e in errors:
        print(e)
    if errors:
        print("yocto-layer-check: %d error(s) in %s" % (len(errors), layer))
        return 1
    print("yocto-layer-check: %s passes" % os.path.normpath(layer))
    if "--self-test" in argv:
        failures = self_test(layer)
        if failures:
            print("yocto-layer-check: self-test: %d broken copies passed the check" % failures)
            return 1
        print("yocto-layer-check: self-test: all %d broken copies fail" % len(MUTATIONS))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
