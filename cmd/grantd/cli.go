package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
)

// usageError is a mistake in how a command was called: a flag unknown,
// missing, malformed or combined with one it excludes, or an argument too
// many or too few. main prints it on one line, naming the flag, and exits
// with status 2; every other failure exits with status 1.
type usageError struct {
	cmd string // the command, e.g. "client show", whose --help to point to
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usageError of command name.
func usagef(name, format string, args ...any) error {
	return &usageError{cmd: name, msg: name + ": " + fmt.Sprintf(format, args...)}
}

// errHelp reports that a command printed its usage for -h or --help: the
// command line did what was asked, and main exits with status 0.
var errHelp = errors.New("help printed")

// cmdline is one command's command line: its flags, its usage text and the
// positional arguments it takes. Flags and arguments may come in any
// order; "--" ends the flags.
type cmdline struct {
	*flag.FlagSet
	env   *environment
	usage string   // the synopsis, then what the command does
	args  []string // names of the positional arguments, e.g. "ID"
	// optional names the positional arguments that may follow args.
	optional []string
	// output, when the command has --output, is its value.
	output *string
}

// command returns the command line of the command name ("client show")
// whose usage is usage and which takes the positional arguments args.
func (e *environment) command(name, usage string, args ...string) *cmdline {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage are printed by parse
	return &cmdline{FlagSet: fs, env: e, usage: usage, args: args}
}

// database adds --database and returns its value.
func (c *cmdline) database() *string {
	return c.String("database", "", "SQLite file path or postgres:// `URL` (default $GRANTD_DATABASE or grantd.db)")
}

// withOutput adds --output json|table.
func (c *cmdline) withOutput() {
	c.output = c.String("output", "json", "`FORMAT` of what is printed: json for machines, table for people")
}

// table reports whether --output asks for a table.
func (c *cmdline) table() bool { return c.output != nil && *c.output == "table" }

// parse parses in and returns the positional arguments, exactly as many as
// c takes. It prints the usage and returns errHelp for -h or --help, and
// returns a usageError for anything else amiss.
func (c *cmdline) parse(in []string) ([]string, error) {
	var pos []string
	flags, rest, dashdash := cutDashDash(in)
	for {
		err := c.Parse(flags)
		if errors.Is(err, flag.ErrHelp) {
			c.printUsage(c.env.stdout)
			return nil, errHelp
		}
		if err != nil {
			msg := flagError(err)
			if strings.HasPrefix(msg, "unknown flag") && len(c.args)+len(c.optional) > 0 {
				// Most likely an id that begins with "-".
				msg += `; an argument that begins with "-" goes after "--"`
			}
			return nil, usagef(c.Name(), "%s", msg)
		}
		if c.NArg() == 0 {
			break
		}
		pos, flags = append(pos, c.Arg(0)), c.Args()[1:]
	}
	if dashdash {
		pos = append(pos, rest...)
	}
	if c.output != nil && *c.output != "json" && *c.output != "table" {
		return nil, usagef(c.Name(), "--output %q: want json or table", *c.output)
	}
	switch {
	case len(pos) > len(c.args)+len(c.optional):
		return nil, usagef(c.Name(), "unexpected argument %q", pos[len(c.args)+len(c.optional)])
	case len(pos) < len(c.args):
		return nil, usagef(c.Name(), "give the %s", strings.Join(c.args[len(pos):], " and "))
	}
	return pos, nil
}

// cutDashDash splits args at the first "--".
func cutDashDash(args []string) (before, after []string, found bool) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:], true
		}
	}
	return args, nil, false
}

// The flag package's messages name flags with one dash; these rewrite them
// in the --flag style of the rest of grantd's command line.
var flagMessages = []struct {
	re   *regexp.Regexp
	repl string
}{
	{regexp.MustCompile(`^flag provided but not defined: -+(.*)$`), "unknown flag --$1"},
	{regexp.MustCompile(`^flag needs an argument: -+(.*)$`), "--$1 needs a value"},
	{regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-+([^:]*): (.*)$`), `--$2 "$1": $3`},
	{regexp.MustCompile(`^bad flag syntax: (.*)$`), "bad flag syntax: $1"},
}

// flagError rewrites a flag package error in the --flag style.
func flagError(err error) string {
	msg := err.Error()
	for _, m := range flagMessages {
		if m.re.MatchString(msg) {
			return m.re.ReplaceAllString(msg, m.repl)
		}
	}
	return msg
}

// printUsage prints c's usage and its flags, each as --name VALUE.
func (c *cmdline) printUsage(w io.Writer) {
	fmt.Fprint(w, strings.TrimLeft(c.usage, "\n"))
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	c.VisitAll(func(f *flag.Flag) {
		value, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if value != "" {
			arg += " " + value
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" && d != "[]" && !strings.Contains(usage, "default") {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", arg, usage)
	})
	tw.Flush()
	if b.Len() > 0 {
		fmt.Fprintf(w, "\nflags:\n%s", b.String())
	}
}

// required returns a usageError naming flag when value is empty.
func (c *cmdline) required(flag, value string) error {
	if value == "" {
		return usagef(c.Name(), "--%s is required", flag)
	}
	return nil
}

// given reports whether the flag name was set on the command line.
func (c *cmdline) given(name string) bool {
	found := false
	c.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// table writes rows under a header, in aligned columns, for people.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
