package conf

import "fmt"

// node is one statement that multipath-tools would act on: a keyword
// known in its section, with its value, or a section with its children.
type node struct {
	key      string
	value    string
	hasValue bool
	line     int
	section  bool
	children []*node
}

// confParser turns a file into the tree of nodes multipath-tools'
// process_stream would walk, then into a File.
type confParser struct {
	name  string
	lines []confLine
	next  int
	warns []Warning
	errs  []*SyntaxError
}

func (p *confParser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &SyntaxError{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *confParser) warnf(line int, format string, args ...any) {
	p.warns = append(p.warns, Warning{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// nextStmt returns the next line with tokens on it, checked.
func (p *confParser) nextStmt() (stmt, bool) {
	for p.next < len(p.lines) {
		l := p.lines[p.next]
		p.next++
		if toks := lexLine(l.text); toks != nil {
			return p.statement(toks, l.num), true
		}
	}
	return stmt{}, false
}

// block reads the statements of one section (sec; open is its keyword,
// nil for the top level) up to its "}" or the end of the file. As in
// multipath-tools, a keyword unknown in sec never opens a section: the
// lines after "unknown {" stay in sec, and the "}" meant for the unknown
// section closes sec.
func (p *confParser) block(sec *grammar, open *node) []*node {
	var out []*node
	seen := map[string]int{}
	for {
		st, ok := p.nextStmt()
		if !ok {
			if open != nil {
				p.warnf(open.line, `section %s is not closed by a "}"; it ends at the end of the file, as in multipath-tools`, open.key)
			}
			return out
		}
		switch st.kind {
		case stmtSkip:
			continue
		case stmtClose:
			if open != nil {
				return out
			}
			p.warnf(st.line, `unmatched "}" ignored, as multipath-tools does`)
			continue
		}
		kw, known := sec.keys[st.key]
		if !known {
			p.unknownKey(sec, st)
			continue
		}
		if first, dup := seen[st.key]; dup && !kw.multi {
			p.warnf(st.line, "duplicate %s (first at line %d); the later one wins, as in multipath-tools", st.key, first)
		} else if !dup {
			seen[st.key] = st.line
		}
		n := &node{key: st.key, value: st.value, hasValue: st.hasValue, line: st.line}
		if kw.sub != nil {
			n.section = true
			n.children = p.block(kw.sub, n)
		}
		out = append(out, n)
	}
}

// unknownKey warns about a keyword sec does not have, saying why it is
// not there and what becomes of a "{" after it.
func (p *confParser) unknownKey(sec *grammar, st stmt) {
	var msg string
	switch {
	case obsoleteKeys[st.key] != "":
		msg = fmt.Sprintf("obsolete keyword %q ignored, as multipath-tools does (%s)", st.key, obsoleteKeys[st.key])
	case knownAnywhere(st.key):
		msg = fmt.Sprintf("%q does not belong in %s; ignored, as multipath-tools does", st.key, sec.where())
	default:
		msg = fmt.Sprintf("unknown keyword %q in %s ignored", st.key, sec.where())
	}
	if st.brace {
		if sec.name == "" {
			msg += `; multipath-tools opens no section for it, so the lines up to its "}" are read at the top level`
		} else {
			msg += fmt.Sprintf(`; multipath-tools opens no section for it, so the lines that follow are read in %s and the next "}" closes %s`, sec.name, sec.name)
		}
	}
	p.warnf(st.line, "%s", msg)
}
