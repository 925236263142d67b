package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// switchman 1.16 parsed its command line with Getopt::Long's defaults
// (App::Switchman::BUILDARGS):
//
//	GetOptionsFromArray($arguments,
//	    'c|config=s' => ..., 'g|group=s' => ..., 'h|help' => \&usage,
//	    'lease=s' => $hash, 'lockname=s' => ..., 'v|version' => \&version,
//	    'lock!' => \$options{do_get_lock})
//
// and ran what was left. Getopt::Long's defaults (unless POSIXLY_CORRECT is
// set in the environment) are: permute (options may come after the command
// word: they are still switchman's, and the words that are not options,
// in order, plus everything after "--", make the command), "--", "-" and
// "+" all start an option, long names with one dash, "name=value" after
// any of them, names case-insensitive, unique abbreviations ("--lockn",
// "--gr", "--no"), "lock!" giving "--lock", "--nolock" and "--no-lock", and
// a value option taking the next argument whatever it is. An unknown or
// ambiguous option, a value option without its value, or "=value" on a
// switch was an error and nothing ran. With POSIXLY_CORRECT set: options
// end at the first word that is not one, no abbreviations, no "+", no
// "=value" after a single dash. switchmanArgs reproduces exactly that.

// switchmanOpts is switchman's option table, keyed by lower-case name.
var switchmanOpts = map[string]struct {
	id    string // the option (aliases share it)
	value bool   // =s: takes a value
}{
	"c": {"config", true}, "config": {"config", true},
	"g": {"group", true}, "group": {"group", true},
	"h": {"help", false}, "help": {"help", false},
	"lease":    {"lease", true},
	"lockname": {"lockname", true},
	"v":        {"version", false}, "version": {"version", false},
	"lock": {"lock", false}, "nolock": {"nolock", false}, "no-lock": {"nolock", false},
}

var switchmanOptNames = func() []string {
	var n []string
	for k := range switchmanOpts {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}()

// errSwitchmanArgs marks a command line switchman would have refused.
var errSwitchmanArgs = errors.New("switchman form")

// runFlagLookup reports whether --name is one of cronguard's flags of the
// run command or global ones, and whether it takes a value.
type runFlagLookup func(name string) (known, takesValue bool)

// switchmanArgs parses args (no subcommand) as switchman did and returns
// cronguard's `run` arguments: run, the options in cronguard's spelling,
// "--", the command. Before the first word that is not an option,
// cronguard's own run and global flags (--zk, --wait, --timeout, ...) are
// also accepted, as given; after it, only switchman's options are options,
// as in switchman, so a command's own --timeout is refused, never taken.
// ok is false when there is neither a command word nor "--" (a bare
// `cronguard --help`): args are then cobra's to read.
func switchmanArgs(args []string, cronguardFlag runFlagLookup, posix bool) (out []string, ok bool, err error) {
	out = []string{"run"}
	var command []string
	sawWord, sawDashDash := false, false
args:
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			command = append(command, args[i+1:]...)
			sawDashDash = true
			break
		}
		starter := ""
		switch {
		case strings.HasPrefix(a, "--"):
			starter = "--"
		case strings.HasPrefix(a, "-") && a != "-":
			starter = "-"
		case strings.HasPrefix(a, "+") && !posix:
			starter = "+"
		}
		if starter == "" { // a word: part of the command
			sawWord = true
			if posix {
				command = append(command, args[i:]...)
				break args
			}
			command = append(command, a)
			continue
		}
		name, optarg, hasArg := a[len(starter):], "", false
		if starter == "--" || !posix {
			if k := strings.Index(name, "="); k >= 1 {
				name, optarg, hasArg = name[:k], name[k+1:], true
			}
		}
		// cronguard's own flags, as cobra reads them, before the command.
		if starter == "--" && !sawWord {
			if known, takes := cronguardOnlyFlag(cronguardFlag, name, hasArg); known {
				out = append(out, a)
				if takes && !hasArg && i+1 < len(args) {
					i++
					out = append(out, args[i])
				}
				continue
			}
		}
		opt, err := resolveSwitchmanOpt(name, posix)
		if err != nil {
			return nil, false, fmt.Errorf("%w: %s %q: %v; %s", errSwitchmanArgs, "option", a, err, switchmanHint)
		}
		o := switchmanOpts[opt]
		if !o.value {
			if hasArg {
				return nil, false, fmt.Errorf("%w: option %q takes no value; %s", errSwitchmanArgs, a, switchmanHint)
			}
			switch o.id {
			case "help": // Getopt ran switchman's usage() at once
				if !sawWord && !hasWord(args[i+1:]) {
					return nil, false, nil // cronguard --help
				}
				return []string{"run", "--help"}, true, nil
			case "version":
				return []string{"--version"}, true, nil
			case "lock":
				out = append(out, "--no-lock=false")
			case "nolock":
				out = append(out, "--no-lock=true")
			}
			continue
		}
		val := optarg
		if !hasArg {
			if i+1 >= len(args) {
				return nil, false, fmt.Errorf("%w: option %q needs a value; %s", errSwitchmanArgs, a, switchmanHint)
			}
			i++
			val = args[i] // Getopt: "a mandatory string takes anything"
		} else if val == "" {
			return nil, false, fmt.Errorf("%w: option %q needs a value; %s", errSwitchmanArgs, a, switchmanHint)
		}
		out = append(out, "--"+o.id+"="+val)
	}
	if !sawWord && !sawDashDash {
		return nil, false, nil
	}
	out = append(out, "--")
	return append(out, command...), true, nil
}

// cronguardOnlyFlag: --name (hasArg: --name=value) is cronguard's own flag
// rather than switchman's option of the same name. They mean the same but
// for --lock: switchman's switch ("lock!"), cronguard's lock name when
// given as --lock=NAME.
func cronguardOnlyFlag(cronguardFlag runFlagLookup, name string, hasArg bool) (known, takesValue bool) {
	if _, sw := switchmanOpts[name]; sw && !(name == "lock" && hasArg) {
		return false, false
	}
	return cronguardFlag(name)
}

// hasWord reports whether args hold "--" or a word that is not an option.
func hasWord(args []string) bool {
	for _, a := range args {
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "+") {
			return true
		}
	}
	return false
}

const switchmanHint = `switchman refused this too; write the command after "--": cronguard [OPTIONS] -- CMD [ARGS]`

// resolveSwitchmanOpt finds the option a name (without its dashes) means
// to Getopt::Long: exact, else a unique abbreviation, case-insensitive.
func resolveSwitchmanOpt(name string, posix bool) (string, error) {
	n := strings.ToLower(name)
	if n == "" {
		return "", errors.New("no option name")
	}
	if _, ok := switchmanOpts[n]; ok {
		return n, nil
	}
	if posix {
		return "", errors.New("unknown option")
	}
	var hits []string
	ids := map[string]bool{}
	for _, k := range switchmanOptNames {
		if strings.HasPrefix(k, n) {
			hits = append(hits, k)
			ids[switchmanOpts[k].id] = true
		}
	}
	switch {
	case len(hits) == 0:
		return "", errors.New("unknown option")
	case len(ids) > 1:
		return "", fmt.Errorf("ambiguous (%s)", strings.Join(hits, ", "))
	}
	return hits[0], nil
}
