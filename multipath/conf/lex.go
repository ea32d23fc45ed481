package conf

import (
	"fmt"
	"strings"
)

// This file reads multipath.conf lines into statements the way
// multipath-tools' parser (libmpathutil/parser.c) does, slips included:
// the file is read line by line, one statement per line; a section
// keyword opens its section whether or not a "{" follows it; anything
// after the value (or after the "{" of a section) is ignored, even a
// "}"; a quote left open runs to the end of its line.

// maxConfLine is the longest line multipath-tools reads in one piece: it
// reads lines with fgets into a 1024-byte buffer, so a longer line is
// read as several lines of at most 1023 bytes.
const maxConfLine = 1023

// lexTok is one token of a line: a word, a brace, or a quote mark.
type lexTok struct {
	text  string
	quote bool // a double quote that opens or closes a string; text is ""
}

func (t lexTok) brace(b string) bool { return !t.quote && t.text == b }

// isConfSpace is C's isspace in the C locale.
func isConfSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// isConfSep separates words outside quotes: white space and, as in
// multipath-tools, every byte that is not ASCII.
func isConfSep(c byte) bool { return isConfSpace(c) || c >= 0x80 }

func isComment(c byte) bool { return c == '#' || c == '!' }

// lexLine splits one line into tokens. Outside quotes, words end at white
// space, non-ASCII bytes, braces, quotes and comment marks (# or !),
// which end the line. Inside quotes everything up to the closing quote is
// one word, "" standing for one quote.
func lexLine(s string) []lexTok {
	i, n := 0, len(s)
	for i < n && isConfSep(s[i]) {
		i++
	}
	if i == n || isComment(s[i]) {
		return nil
	}
	var toks []lexTok
	inStr := false
	for {
		switch {
		case s[i] == '"' && !(inStr && i+1 < n && s[i+1] == '"'):
			toks = append(toks, lexTok{quote: true})
			inStr = !inStr
			i++
		case !inStr && (s[i] == '{' || s[i] == '}'):
			toks = append(toks, lexTok{text: s[i : i+1]})
			i++
		default:
			var word string
			word, i = lexWord(s, i, inStr)
			toks = append(toks, lexTok{text: word})
		}
		for !inStr && i < n && isConfSep(s[i]) {
			i++
		}
		if i == n || (!inStr && isComment(s[i])) {
			return toks
		}
	}
}

// lexWord reads the word starting at s[i]; inside quotes a doubled quote
// stands for one.
func lexWord(s string, i int, inStr bool) (string, int) {
	var b strings.Builder
	start := i
	for {
		for i < len(s) && s[i] != '"' &&
			(inStr || !(isConfSep(s[i]) || isComment(s[i]) || s[i] == '{' || s[i] == '}')) {
			i++
		}
		if inStr && i+1 < len(s) && s[i] == '"' && s[i+1] == '"' {
			b.WriteString(s[start : i+1])
			i += 2
			start = i
			continue
		}
		b.WriteString(s[start:i])
		return b.String(), i
	}
}

// confLine is one line as multipath-tools reads it.
type confLine struct {
	text string
	num  int // physical line number in the file
}

// splitConfLines cuts the file into the lines multipath-tools reads: at
// newlines, and every 1023 bytes within a longer line; each piece ends at
// its first carriage return (after leading ones) or NUL byte, as C string
// handling of fgets' buffer does.
func (p *confParser) splitConfLines(src string) []confLine {
	var out []confLine
	for num := 1; len(src) > 0; num++ {
		line := src
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = ""
		}
		if len(line) >= maxConfLine {
			p.warnf(num, "line longer than %d bytes; multipath-tools reads it as several lines, and so does gomp", maxConfLine-1)
		}
		for {
			piece := line[:min(len(line), maxConfLine)]
			out = append(out, confLine{text: cutLine(piece), num: num})
			line = line[len(piece):]
			if line == "" {
				break
			}
		}
	}
	return out
}

func cutLine(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	lead := len(s) - len(strings.TrimLeft(s, "\r"))
	if i := strings.IndexByte(s[lead:], '\r'); i >= 0 {
		s = s[:lead+i]
	}
	return s
}

// stmtKind says what a line does.
type stmtKind uint8

const (
	stmtSkip  stmtKind = iota // nothing multipath-tools acts on
	stmtClose                 // "}"
	stmtKey                   // a keyword, with a value unless it names a section
)

// stmt is one line checked as multipath-tools' validate_config_strvec
// checks it, with the value its set_value would give.
type stmt struct {
	kind     stmtKind
	key      string
	value    string
	hasValue bool
	brace    bool // "{" follows the keyword
	line     int
}

// statement checks one line's tokens, warns about every slip, and
// returns what multipath-tools would act on.
func (p *confParser) statement(toks []lexTok, line int) stmt {
	k := toks[0]
	switch {
	case k.brace("}"):
		if len(toks) > 1 {
			p.extraData(line, toks[1:])
		}
		return stmt{kind: stmtClose, line: line}
	case k.brace("{"):
		p.warnf(line, `line starts with "{"; ignored, as multipath-tools does`)
		return stmt{line: line}
	case !k.quote && sectionKeywords[k.text]:
		st := stmt{kind: stmtKey, key: k.text, line: line}
		switch {
		case len(toks) == 1:
			p.warnf(line, `missing "{" after %s; the section is opened anyway, as multipath-tools does`, k.text)
		case !toks[1].brace("{"):
			p.warnf(line, `expected "{" after %s, found %q; the section is opened anyway, as multipath-tools does`, k.text, toks[1].text)
		default:
			st.brace = true
			if len(toks) > 2 {
				p.extraData(line, toks[2:])
			}
		}
		return st
	case len(toks) == 1:
		p.warnf(line, "%s has no value; line ignored, as multipath-tools does", keyName(k))
		return stmt{line: line}
	}
	return p.value(toks, line)
}

// value reads "keyword value" and "keyword "quoted value"".
func (p *confParser) value(toks []lexTok, line int) stmt {
	st := stmt{kind: stmtKey, key: keyName(toks[0]), hasValue: true, line: line}
	v := toks[1]
	switch {
	case !v.quote:
		st.value, st.brace = v.text, v.brace("{")
		if len(toks) > 2 {
			p.extraData(line, toks[2:])
		}
	case len(toks) == 2:
		p.warnf(line, "missing closing quote; the value runs to the end of the line, as in multipath-tools")
	case toks[2].quote:
		if len(toks) > 3 {
			p.extraData(line, toks[3:])
		}
	case len(toks) == 3:
		st.value = toks[2].text
		p.warnf(line, "missing closing quote; the value runs to the end of the line, as in multipath-tools")
	default: // a closing quote always follows a quoted word
		st.value = toks[2].text
		if len(toks) > 4 {
			p.extraData(line, toks[4:])
		}
	}
	return st
}

func keyName(t lexTok) string {
	if t.quote {
		return `""`
	}
	return t.text
}

// extraData warns about tokens after a complete statement, which
// multipath-tools ignores — a "}" among them does not close anything.
func (p *confParser) extraData(line int, rest []lexTok) {
	msg := fmt.Sprintf("extra data %s ignored, as multipath-tools does", quoteTok(rest[0]))
	for _, t := range rest {
		if t.brace("}") {
			msg += `; the "}" on this line closes nothing: put it on a line of its own`
			break
		}
	}
	p.warnf(line, "%s", msg)
}

func quoteTok(t lexTok) string {
	if t.quote {
		return `starting with a quote`
	}
	return fmt.Sprintf("starting with %q", t.text)
}
