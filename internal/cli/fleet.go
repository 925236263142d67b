package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/lease"
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
		fmt.Fprintln(out, "no change")
		return nil
	}
	fmt.Fprint(out, diff)
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
	acl         bool
	worker      string
}

func newConfigCmd(g *globalOptions) *cobra.Command {
	o := &configOptions{g: g}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Read, validate and change the fleet config in ZooKeeper",
	}
	cmd.PersistentFlags().BoolVar(&o.dryRun, "dry-run", false, "print the diff, write nothing")
	cmd.PersistentFlags().BoolVar(&o.noSwitchman, "no-switchman", false, "no switchman host is left: allow a fleet config longer than switchman's data_read_len (key no_switchman)")
	cmd.AddCommand(
		&cobra.Command{
			Use:   "get",
			Short: "Print the fleet config (its znode version goes to stderr)",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return o.get(cmd.Context()) },
		},
		o.newInitCmd(),
		&cobra.Command{
			Use:   "set FILE|-",
			Short: "Replace the fleet config after validating it (compare-and-set)",
			Args:  cobra.ExactArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return o.set(cmd.Context(), args[0]) },
		},
		&cobra.Command{
			Use:   "edit",
			Short: "Edit the fleet config in $EDITOR; validated, re-opened on error, written with compare-and-set",
			Args:  cobra.NoArgs,
			RunE:  func(cmd *cobra.Command, _ []string) error { return o.edit(cmd.Context()) },
		},
		&cobra.Command{
			Use:   "validate [FILE|-]",
			Short: "Check a fleet config file, or the one in ZooKeeper",
			Args:  cobra.MaximumNArgs(1),
			RunE:  func(cmd *cobra.Command, args []string) error { return o.validate(cmd.Context(), args) },
		},
	)
	return cmd
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
	a.noSwitchman = o.noSwitchman
	return a.writeFleet(o.g.stdout, old, version, next, o.dryRun)
}

func (o *configOptions) edit(ctx context.Context) error {
	a, old, version, err := o.g.dialFleet(ctx)
	if err != nil {
		return err
	}
	defer a.Close()
	a.noSwitchman = o.noSwitchman
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
		if err := runEditor(f.Name(), o.g.getenv); err != nil {
			return err
		}
		edited, err := os.ReadFile(f.Name())
		if err != nil {
			return err
		}
		if string(edited) == string(original) {
			fmt.Fprintln(o.g.stdout, "no change")
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

// runEditor runs $VISUAL or $EDITOR (default vi) on path, through the shell
// so that an editor with flags ("code --wait") works.
func runEditor(path string, getenv func(string) string) error {
	editor := firstNonEmpty(getenv("VISUAL"), getenv("EDITOR"), "vi")
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
			for _, other := range groups {
				if oneEditApart(h, other) {
					warnings = append(warnings, fmt.Sprintf("%q in group %q is a host, but looks like group %q misspelt", h, g, other))
				}
			}
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
	if _, ok := next.Groups[group]; !ok && !o.add {
		return refused("group %q does not exist in %s", group, a.st.root)
	}
	for _, h := range hosts {
		i := slices.Index(members, h)
		switch {
		case o.add && i < 0:
			members = append(members, h)
		case !o.add && i >= 0:
			members = slices.Delete(members, i, i+1)
		case !o.add:
			if ok, _ := cur.Eligible(group, h); ok {
				fmt.Fprintf(o.g.stderr, "cronguard: %s is in %s through a subgroup (%s); unassign it there\n",
					h, group, strings.Join(explainChain(cur, group, h), " -> "))
			} else {
				fmt.Fprintf(o.g.stderr, "cronguard: %s is not in group %s\n", h, group)
			}
		}
	}
	next.Groups[group] = members
	return a.writeFleet(o.g.stdout, old, version, next, o.dryRun)
}

func explainChain(f *config.Fleet, group, host string) []string {
	chain, _, _ := f.Explain(group, host)
	return chain
}
