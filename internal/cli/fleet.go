package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lease"
	"github.com/cronguard/cronguard/metadata"
	"github.com/cronguard/cronguard/session"
)

// ExitRefused is the exit code of an operator command that refused to act:
// an invalid config, a concurrent change, a failed validation.
const ExitRefused = 1

func refused(format string, args ...any) error {
	return &exitError{code: ExitRefused, err: fmt.Errorf(format, args...)}
}

// adminConn is an operator command's ZooKeeper connection.
type adminConn struct {
	st   *settings
	sess *session.Session
	conn *zk.Conn

	noSwitchman bool // --no-switchman: writeFleet lifts switchman's data_read_len limit
	// confirmNames, when set, is asked before writing a config that has
	// host members looking like misspelt groups that the stored one has
	// not (config set and edit); an error refuses the write.
	confirmNames func(warnings []string) error
}

func (g *globalOptions) dialAdmin(ctx context.Context) (*adminConn, error) {
	st, err := g.resolve()
	if err != nil {
		return nil, err
	}
	level := "warn" // an operator wants the result, not session chatter
	if st.local.LogLevel == "debug" {
		level = "debug"
	}
	log, _, err := newLogger(level, "console", "-", g.stderr)
	if err != nil {
		return nil, err
	}
	l := st.local
	opts := []session.Option{session.WithLogger(log),
		session.WithSessionTimeout(l.SessionTimeout), session.WithConnectTimeout(l.ConnectTimeout)}
	if l.Auth != "" {
		opts = append(opts, session.WithAuth("digest", l.Auth))
	}
	sess, err := session.Dial(ctx, l.Servers, opts...)
	if err != nil {
		return nil, err
	}
	return &adminConn{st: st, sess: sess, conn: sess.Conn()}, nil
}

func (a *adminConn) Close() { a.sess.Close() }

// dialFleet connects and reads the fleet config: what most operator
// commands start with. The caller closes the connection.
func (g *globalOptions) dialFleet(ctx context.Context) (*adminConn, []byte, int32, error) {
	a, err := g.dialAdmin(ctx)
	if err != nil {
		return nil, nil, 0, err
	}
	data, version, err := a.readFleet()
	if err != nil {
		a.Close()
		return nil, nil, 0, err
	}
	return a, data, version, nil
}

// readFleet returns the fleet config's raw data and znode version.
func (a *adminConn) readFleet() ([]byte, int32, error) {
	data, st, err := a.conn.Get(a.st.root)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, 0, fmt.Errorf("prefix %s does not exist: create it with `cronguard config init`", a.st.root)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", a.st.root, err)
	}
	return data, st.Version, nil
}

// writeFleet validates next, prints the diff against old, and writes it with
// the version it was read at: a change made in between is refused, never
// overwritten.
func (a *adminConn) writeFleet(out io.Writer, old []byte, version int32, next *config.Fleet, dryRun bool) error {
	if errs := next.Validate(); len(errs) > 0 {
		return refused("refusing to write an invalid fleet config: %v", errors.Join(errs...))
	}
	data, err := next.Marshal()
	if err != nil {
		return err
	}
	cur, curErr := config.ParseFleet(old)
	if curErr == nil {
		if canon, err := cur.Marshal(); err == nil && string(canon) == string(data) {
			// The same config (perhaps another layout of it): never rewritten.
			fmt.Fprintln(out, "unchanged: nothing written")
			return nil
		}
	}
	if err := config.CheckFleetSize(len(data)); err != nil {
		return refused("refusing to write the fleet config: %v: nothing written", err)
	}
	// A config that does not grow cannot break a switchman host that can
	// read the stored one, so unassign always works.
	if err := config.CheckSwitchmanReadLen(len(data), a.st.local, a.noSwitchman); err != nil && len(data) > len(old) {
		return refused("refusing to write the fleet config: %v: nothing written", err)
	}
	diff := unifiedDiff(string(old), string(data), a.st.root)
	if diff == "" {
		fmt.Fprintln(out, "unchanged: nothing written")
		return nil
	}
	fmt.Fprint(out, diff)
	if a.confirmNames != nil {
		if curErr != nil {
			cur = nil
		}
		if w := newNearMisses(cur, next); len(w) > 0 {
			for _, x := range w {
				fmt.Fprintf(out, "warning: %s\n", x)
			}
			if !dryRun {
				if err := a.confirmNames(w); err != nil {
					return err
				}
			}
		}
	}
	if dryRun {
		fmt.Fprintln(out, "dry run: nothing written")
		return nil
	}
	_, err = a.conn.Set(a.st.root, data, version)
	if errors.Is(err, zk.ErrBadVersion) {
		return refused("%s changed since it was read (version %d): nothing written, run the command again", a.st.root, version)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", a.st.root, err)
	}
	return nil
}

func unifiedDiff(a, b, name string) string {
	if a == b {
		return ""
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: name + " (current)", ToFile: name + " (new)", Context: 3,
	})
	return d
}

type configOptions struct {
	g           *globalOptions
	dryRun      bool
	noSwitchman bool
	force       bool
	acl         bool
	worker      string
}

func newConfigCmd(g *globalOptions) *cobra.Command {
	o := &configOptions{g: g}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read, validate and change the fleet config in ZooKeeper",
	}
	cmd.PersistentFlags().BoolVar(&o.noSwitchman, "no-switchman", false, "no switchman host is left: allow a fleet config longer than switchman's data_read_len (key no_switchman)")
	cmd.AddCommand(
		&cobra.Command{
			Use:   "get",
			Short: "Print the fleet config (its znode version goes to stderr)",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return o.get(cmd.Context()) },
		},
		o.dryRunFlag(o.newInitCmd()),
		o.forceFlag(&cobra.Command{
			Use:   "set FILE|-",
			Short: "Replace the fleet config after validating it (compare-and-set)",
			Args:  cobra.ExactArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return o.set(cmd.Context(), args[0]) },
		}),
		o.forceFlag(&cobra.Command{
			Use:   "edit",
			Short: "Edit the fleet config in $VISUAL, $EDITOR, sensible-editor, editor or vi; validated, re-opened on error, written with compare-and-set",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return o.edit(cmd.Context()) },
		}),
		&cobra.Command{
			Use:   "validate [FILE|-]",
			Short: "Check a fleet config file, or the one in ZooKeeper",
			Args:  cobra.MaximumNArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return o.validate(cmd.Context(), args) },
		},
	)
	return cmd
}

// dryRunFlag gives a command that writes --dry-run (only those: get and
// validate write nothing anyway).
func (o *configOptions) dryRunFlag(cmd *cobra.Command) *cobra.Command {
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff, write nothing")
	return cmd
}

// forceFlag gives set and edit --force (and --dry-run): write a config
// with near-miss names without asking.
func (o *configOptions) forceFlag(cmd *cobra.Command) *cobra.Command {
	o.dryRunFlag(cmd)
	cmd.Flags().BoolVar(&o.force, "force", false, "write even when a host member looks like a misspelt group (else asked on a terminal, refused otherwise)")
	return cmd
}

// confirmNames asks whether to write a config with near-miss names: yes
// with --force, the operator's answer on a terminal, no otherwise.
func (o *configOptions) confirmNames(warnings []string) error {
	if o.force {
		return nil
	}
	if !o.g.stdinTerminal() {
		return refused("%d name(s) look like misspelt groups (see above): nothing written; fix them, or pass --force", len(warnings))
	}
	fmt.Fprintf(o.g.stderr, "write it anyway? [y/N] ")
	line, _ := bufio.NewReader(o.g.input()).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return refused("not confirmed: nothing written")
}

// input is the commands' stdin.
func (g *globalOptions) input() io.Reader {
	if g.stdin != nil {
		return g.stdin
	}
	return os.Stdin
}

// stdinTerminal reports whether stdin is a terminal, someone to ask.
func (g *globalOptions) stdinTerminal() bool {
	if g.isTerminal != nil {
		return g.isTerminal()
	}
	_, err := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
	return err == nil
}

func (o *configOptions) newInitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init [--acl --worker USER:PASS]",
		Short: "Create the prefix with an empty, valid fleet config",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.init(cmd.Context()) },
	}
	cmd.Flags().BoolVar(&o.acl, "acl", false, "protect the fleet config: only the operator credential (the config's auth) may change it; --worker may create locks and runs")
	cmd.Flags().StringVar(&o.worker, "worker", "", "with --acl: the workers' digest credential USER:PASS")
	return cmd
}

// aclPlan gives the ACLs of the prefix and of the directories workers
// write in (locks, runs, queues, semaphores), which everyone may read, and
// the data of <prefix>/acl: the template of what runs create
// (lease.ChildACL).
func aclPlan(operator, worker string) (prefix, shared, aclNode []zk.ACL, template []byte, err error) {
	opUser, opPass, ok1 := strings.Cut(operator, ":")
	wUser, wPass, ok2 := strings.Cut(worker, ":")
	if !ok1 || opUser == "" {
		return nil, nil, nil, nil, refused("--acl needs the operator credential as auth USER:PASS in the local config")
	}
	if !ok2 || wUser == "" {
		return nil, nil, nil, nil, refused("--acl needs --worker USER:PASS")
	}
	if wUser == opUser {
		return nil, nil, nil, nil, refused("--worker must be another user than the operator's (auth): workers must not change the fleet config")
	}
	read := zk.WorldACL(zk.PermRead)
	op := zk.DigestACL(zk.PermAll, opUser, opPass)
	prefix = slices.Concat(op, read)
	// Workers create and delete nodes in the fleet's directories, but
	// change no ACL.
	shared = slices.Concat(op, zk.DigestACL(zk.PermRead|zk.PermCreate|zk.PermDelete, wUser, wPass), read)
	// What runs create in them (directories, run records) admits the
	// operator with all rights and the workers with all but ADMIN.
	template = lease.ACLTemplate(slices.Concat(op, zk.DigestACL(zk.PermAll&^zk.PermAdmin, wUser, wPass)))
	aclNode = slices.Concat(op, zk.DigestACL(zk.PermRead, wUser, wPass))
	return prefix, shared, aclNode, template, nil
}

// workerSubnodes are the prefix's children that every run may write.
var workerSubnodes = []string{"locks", "runs", "queues", "semaphores"}

func (o *configOptions) get(ctx context.Context) error {
	a, data, version, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	if f, err := config.ParseFleet(data); err == nil {
		if pretty, err := f.Marshal(); err == nil {
			data = pretty
		}
	}
	fmt.Fprintf(o.g.stderr, "# %s, version %d\n", a.st.root, version)
	_, err = o.g.stdout.Write(data)
	if len(data) > 0 && data[len(data)-1] != '\n' {
		fmt.Fprintln(o.g.stdout)
	}
	return err
}

func (o *configOptions) init(ctx context.Context) error {
	a, err := o.g.dialAdmin(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	prefixACL, sharedACL, aclNodeACL, template := zk.WorldACL(zk.PermAll), []zk.ACL(nil), []zk.ACL(nil), []byte(nil)
	if o.acl {
		if prefixACL, sharedACL, aclNodeACL, template, err = aclPlan(a.st.local.Auth, o.worker); err != nil {
			return err
		}
	} else if o.worker != "" {
		return refused("--worker goes with --acl")
	}
	empty := []byte("{\n  \"groups\": {}\n}\n")
	if ok, _, err := a.conn.Exists(a.st.root); err != nil {
		return err
	} else if ok {
		return refused("%s already exists: use `cronguard config set` to change it", a.st.root)
	}
	fmt.Fprint(o.g.stdout, unifiedDiff("", string(empty), a.st.root))
	if o.dryRun {
		fmt.Fprintln(o.g.stdout, "dry run: nothing written")
		return nil
	}
	// Parents get no data: only the prefix itself carries the fleet config.
	if err := createIfMissing(a.conn, path.Dir(a.st.root), nil); err != nil {
		return err
	}
	if _, err := a.conn.Create(a.st.root, empty, 0, prefixACL); err != nil {
		if errors.Is(err, zk.ErrNodeExists) {
			return refused("%s was created concurrently: nothing written", a.st.root)
		}
		return fmt.Errorf("creating %s: %w", a.st.root, err)
	}
	if sharedACL != nil {
		for _, sub := range workerSubnodes {
			if _, err := a.conn.Create(a.st.root+"/"+sub, nil, 0, sharedACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("creating %s/%s: %w", a.st.root, sub, err)
			}
		}
		// The template holds password digests: the world may not read it.
		if _, err := a.conn.Create(a.st.root+"/"+lease.ACLNode, template, 0, aclNodeACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("creating %s/%s: %w", a.st.root, lease.ACLNode, err)
		}
	}
	return nil
}

func createIfMissing(conn *zk.Conn, p string, data []byte) error {
	if p == "/" {
		return nil
	}
	if err := createIfMissing(conn, path.Dir(p), nil); err != nil {
		return err
	}
	_, err := conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("creating %s: %w", p, err)
	}
	return nil
}

// maxFleetInput bounds what config set and validate read: far above
// config.MaxFleetSize (a file may be indented more than what is written),
// far below what would hurt (set /dev/zero).
const maxFleetInput = 16 << 20

func readInput(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxFleetInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxFleetInput {
		return nil, refused("%s: larger than %d MiB: not a fleet config", name, maxFleetInput>>20)
	}
	return data, nil
}

func (o *configOptions) set(ctx context.Context, file string) error {
	input, err := readInput(file, os.Stdin)
	if err != nil {
		return err
	}
	next, err := config.ParseFleetStrict(input)
	if err != nil {
		return refused("%s: %v", file, err)
	}
	a, old, version, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.noSwitchman, a.confirmNames = o.noSwitchman, o.confirmNames
	return a.writeFleet(o.g.stdout, old, version, next, o.dryRun)
}

func (o *configOptions) edit(ctx context.Context) error {
	// Without a terminal the editor would wait for input that never comes.
	if !o.g.stdinTerminal() {
		return refused("config edit needs a terminal on stdin: without one, use `config get > FILE`, change FILE, then `config set FILE`")
	}
	editor, err := findEditor(o.g.getenv)
	if err != nil {
		return err
	}
	a, old, version, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.noSwitchman, a.confirmNames = o.noSwitchman, o.confirmNames
	f, err := os.CreateTemp("", "cronguard-fleet-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	f.Close()
	draft := old
	if cur, err := config.ParseFleet(old); err == nil {
		if pretty, err := cur.Marshal(); err == nil {
			draft = pretty // edit the canonical form; the diff is against what is stored
		}
	}
	original := draft
	for {
		if err := os.WriteFile(f.Name(), draft, 0o600); err != nil {
			return err
		}
		if err := runEditor(editor, f.Name()); err != nil {
			return err
		}
		edited, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		if string(edited) == string(original) {
			fmt.Fprintln(o.g.stdout, "unchanged: nothing written")
			return nil
		}
		next, problem := parseAndValidate(edited)
		if problem == nil {
			return a.writeFleet(o.g.stdout, old, version, next, o.dryRun)
		}
		if string(edited) == string(draft) && string(draft) != string(original) {
			// Saved the same broken text twice: the operator gave up.
			return refused("%v: nothing written", problem)
		}
		fmt.Fprintf(o.g.stderr, "cronguard: %v\ncronguard: re-opening the editor (save it unchanged to give up)\n", problem)
		draft = edited
	}
}

func parseAndValidate(data []byte) (*config.Fleet, error) {
	f, err := config.ParseFleetStrict(data)
	if err != nil {
		return nil, err
	}
	if errs := f.Validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

// editorFallbacks are tried in $PATH order after $VISUAL and $EDITOR:
// Debian's choice (sensible-editor, the editor alternative), then vi.
var editorFallbacks = []string{"sensible-editor", "editor", "vi"}

// findEditor returns the shell words of the editor: $VISUAL, $EDITOR (as
// given, so that "code --wait" works), else the first of editorFallbacks
// found in $PATH.
func findEditor(getenv func(string) string) (string, error) {
	if e := firstNonEmpty(getenv("VISUAL"), getenv("EDITOR")); e != "" {
		return e, nil
	}
	for _, name := range editorFallbacks {
		for _, dir := range filepath.SplitList(getenv("PATH")) {
			if dir == "" {
				continue
			}
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
				return metadata.Quote(p), nil
			}
		}
	}
	return "", refused("no editor: set $VISUAL or $EDITOR (none of %s is in $PATH)", strings.Join(editorFallbacks, ", "))
}

// runEditor runs editor (shell words) on path, through the shell so that an
// editor with flags ("code --wait") works.
func runEditor(editor, path string) error {
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "sh", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("editor %q: %w", editor, err)
	}
	return nil
}

func (o *configOptions) validate(ctx context.Context, args []string) error {
	var data []byte
	source := ""
	var local *config.Local
	if len(args) == 1 {
		var err error
		if data, err = readInput(args[0], os.Stdin); err != nil {
			return err
		}
		source = args[0]
		// data_read_len and no_switchman are in the local config; a file
		// checked where there is none gets switchman's defaults.
		local = config.DefaultLocal()
		if st, err := o.g.resolve(); err == nil {
			local = st.local
		}
	} else {
		a, stored, _, err := o.g.dialFleet(ctx)
		if err != nil {
			return err
		}
		defer a.Close()
		data, source, local = stored, a.st.root, a.st.local
	}
	f, err := config.ParseFleetStrict(data)
	if err != nil {
		return refused("%s: %v", source, err)
	}
	if out, err := f.Marshal(); err == nil {
		if err := config.CheckFleetSize(len(out)); err != nil {
			return refused("%s: %v", source, err)
		}
		// What switchman reads: the stored bytes, or what set would store.
		n := len(out)
		if len(args) == 0 {
			n = len(data)
		}
		if local != nil {
			if err := config.CheckSwitchmanReadLen(n, local, o.noSwitchman); err != nil {
				return refused("%s: %v", source, err)
			}
		}
	}
	if errs := f.Validate(); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintf(o.g.stdout, "%s: %v\n", source, e)
		}
		return refused("%s: %d problem(s)", source, len(errs))
	}
	for _, w := range hostWarnings(ctx, f, net.DefaultResolver.LookupHost) {
		fmt.Fprintf(o.g.stdout, "%s: warning: %s\n", source, w)
	}
	fmt.Fprintf(o.g.stdout, "%s: valid (%d groups)\n", source, len(f.Groups))
	return nil
}

// hostLookupBudget bounds the DNS look-ups of `config validate`: enough for
// a fleet's names on a healthy resolver, short enough that a dead one
// cannot hang an operator's command.
const hostLookupBudget = 3 * time.Second

// hostWarnings flags host members that may be mistakes: a name one edit
// away from a group (a misspelt subgroup becomes a host that never runs
// anything), or a dotted name that does not resolve. They are warnings: host
// identities need not be DNS names (--hostname, `hostname` in the config).
func hostWarnings(ctx context.Context, f *config.Fleet, lookup func(context.Context, string) ([]string, error)) []string {
	ctx, cancel := context.WithTimeout(ctx, hostLookupBudget)
	defer cancel()
	groups := make([]string, 0, len(f.Groups))
	for g := range f.Groups {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	seen := map[string]bool{}
	var warnings []string
	for _, g := range groups {
		for _, h := range f.Groups[g] {
			if _, isGroup := f.Groups[h]; isGroup || seen[h] || h == "" {
				continue
			}
			seen[h] = true
			warnings = append(warnings, nearMisses(h, g, groups)...)
			// Only names that look like DNS names: a short identity
			// such as "box-a" is a --hostname, not something to resolve.
			if !strings.Contains(h, ".") {
				continue
			}
			if _, err := lookup(ctx, h); err != nil {
				warnings = append(warnings, fmt.Sprintf("host %q (group %q) does not resolve; fine if it is a --hostname identity, else a typo", h, g))
			}
		}
	}
	return warnings
}

// nearMisses warns when host member h of group g is one edit away from one
// of groups.
func nearMisses(h, g string, groups []string) []string {
	var warnings []string
	for _, other := range groups {
		if oneEditApart(h, other) {
			warnings = append(warnings, fmt.Sprintf("%q in group %q is a host, but looks like group %q misspelt", h, g, other))
		}
	}
	return warnings
}

// fleetNearMisses are all the near-miss warnings of f (no DNS look-ups).
func fleetNearMisses(f *config.Fleet) []string {
	if f == nil {
		return nil
	}
	groups := slices.Sorted(maps.Keys(f.Groups))
	var warnings []string
	for _, g := range groups {
		for _, h := range f.Groups[g] {
			if _, isGroup := f.Groups[h]; isGroup || h == "" {
				continue
			}
			warnings = append(warnings, nearMisses(h, g, groups)...)
		}
	}
	return warnings
}

// newNearMisses are next's near-miss warnings that cur (the stored config,
// nil when unreadable) does not have: a name kept on purpose is not asked
// about again.
func newNearMisses(cur, next *config.Fleet) []string {
	old := map[string]bool{}
	for _, w := range fleetNearMisses(cur) {
		old[w] = true
	}
	var out []string
	for _, w := range fleetNearMisses(next) {
		if !old[w] {
			out = append(out, w)
		}
	}
	return out
}

// closestName is the name of names nearest to s (Levenshtein distance,
// ties broken by order), "" when names is empty.
func closestName(s string, names []string) string {
	best, bestD := "", -1
	for _, n := range names {
		if d := editDistance(s, n); bestD < 0 || d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// oneEditApart reports whether a and b differ by one insertion, deletion,
// substitution or swap of neighbours.
func oneEditApart(a, b string) bool {
	if a == b {
		return false
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	switch len(b) - len(a) {
	case 0:
		var diff []int
		for i := range a {
			if a[i] != b[i] {
				diff = append(diff, i)
			}
		}
		return len(diff) == 1 ||
			len(diff) == 2 && diff[1] == diff[0]+1 && a[diff[0]] == b[diff[1]] && a[diff[1]] == b[diff[0]]
	case 1:
		i := 0
		for i < len(a) && a[i] == b[i] {
			i++
		}
		return a[i:] == b[i+1:]
	}
	return false
}

type assignOptions struct {
	g           *globalOptions
	add         bool
	create      bool
	dryRun      bool
	noSwitchman bool
}

func newAssignCmd(g *globalOptions, add bool) *cobra.Command {
	o := &assignOptions{g: g, add: add}
	use, short := "assign GROUP HOST...", "Add hosts to a group (compare-and-set, prints the diff)"
	if !add {
		use, short = "unassign GROUP HOST...", "Remove hosts from a group; their running jobs of it are stopped"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0], args[1:])
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the diff, write nothing")
	cmd.Flags().BoolVar(&o.noSwitchman, "no-switchman", false, "no switchman host is left: allow a fleet config longer than switchman's data_read_len (key no_switchman)")
	if add {
		cmd.Flags().BoolVar(&o.create, "create", false, "create GROUP when it does not exist (else refused, as a typo)")
	}
	return cmd
}

func (o *assignOptions) run(ctx context.Context, group string, hosts []string) error {
	a, old, version, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.noSwitchman = o.noSwitchman
	cur, err := config.ParseFleetStrict(old)
	if err != nil {
		return refused("the fleet config in %s is invalid (%v): fix it with `cronguard config set`", a.st.root, err)
	}
	next := cur.Clone()
	if next.Groups == nil {
		next.Groups = map[string][]string{}
	}
	members := next.Groups[group]
	if _, ok := next.Groups[group]; !ok && !(o.add && o.create) {
		return refused("%s", noGroupText(group, slices.Sorted(maps.Keys(cur.Groups)), o.add))
	}
	var missing []string
	for _, h := range hosts {
		i := slices.Index(members, h)
		switch {
		case o.add && i < 0:
			members = append(members, h)
		case !o.add && i >= 0:
			members = slices.Delete(members, i, i+1)
		case !o.add:
			if ok, _ := cur.Eligible(group, h); ok {
				missing = append(missing, fmt.Sprintf("%s is in %s through a subgroup (%s); unassign it there",
					h, group, strings.Join(explainChain(cur, group, h), " -> ")))
			} else {
				missing = append(missing, fmt.Sprintf("%s is not in group %s", h, group))
			}
		}
	}
	if len(missing) > 0 {
		// A typo must not pass for success, nor remove the other hosts.
		for _, m := range missing[:len(missing)-1] {
			fmt.Fprintf(o.g.stderr, "cronguard: %s\n", m)
		}
		return refused("%s: nothing written", missing[len(missing)-1])
	}
	next.Groups[group] = members
	return a.writeFleet(o.g.stdout, old, version, next, o.dryRun)
}

// noGroupText is the refusal of a group that does not exist, with the
// closest existing name.
func noGroupText(group string, groups []string, add bool) string {
	s := fmt.Sprintf("no group %s", group)
	if c := closestName(group, groups); c != "" {
		s += fmt.Sprintf("; did you mean %s?", c)
	} else {
		s += " (the fleet config has no groups)"
	}
	if add {
		s += " (--create makes a new group)"
	}
	return s
}

func explainChain(f *config.Fleet, group, host string) []string {
	chain, _, _ := f.Explain(group, host)
	return chain
}
