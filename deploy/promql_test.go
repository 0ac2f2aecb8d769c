package deploy_test

import (
	"strings"
	"unicode"
)

// promqlKeywords are identifiers in PromQL that are neither metrics nor
// functions (functions are told apart by the "(" that follows them).
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"inf": true, "nan": true,
}

// groupingKeywords take a parenthesized label list, not an expression.
var groupingKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression selects: the
// identifiers outside label matchers, ranges, strings and grouping lists
// that are not functions or keywords; also names given as __name__="...".
// Grafana variables ($x, ${x}) are skipped. It is a lexer, not a parser:
// enough for expressions we write, and it errs towards reporting a name.
func metricNames(expr string) []string {
	var names []string
	rs := []rune(expr)
	for i := 0; i < len(rs); {
		c := rs[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(rs, i)
		case c == '{':
			end := closing(rs, i, '{', '}')
			if n := nameMatcher(string(rs[i+1 : end])); n != "" {
				names = append(names, n)
			}
			i = end + 1
		case c == '[':
			i = closing(rs, i, '[', ']') + 1
		case c == '$':
			i++
			if i < len(rs) && rs[i] == '{' {
				i = closing(rs, i, '{', '}') + 1
				continue
			}
			for i < len(rs) && isIdent(rs[i]) {
				i++
			}
		case unicode.IsDigit(c) || c == '.':
			for i < len(rs) && (isIdent(rs[i]) || rs[i] == '.') {
				i++ // numbers, durations and 1e9 are one token
			}
		case isIdentStart(c):
			j := i
			for j < len(rs) && isIdent(rs[j]) {
				j++
			}
			word := string(rs[i:j])
			k := j
			for k < len(rs) && unicode.IsSpace(rs[k]) {
				k++
			}
			next := rune(0)
			if k < len(rs) {
				next = rs[k]
			}
			switch {
			case groupingKeywords[strings.ToLower(word)]:
				if next == '(' {
					j = closing(rs, k, '(', ')') + 1
				}
			case next == '(' || promqlKeywords[strings.ToLower(word)]:
			case groupingKeywords[strings.ToLower(nextWord(rs, k))]:
				// an aggregation written "sum by (x) (...)"
			default:
				names = append(names, word)
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// nextWord returns the identifier starting at k, if any.
func nextWord(rs []rune, k int) string {
	j := k
	for j < len(rs) && isIdent(rs[j]) {
		j++
	}
	return string(rs[k:j])
}

// nameMatcher returns the value of a __name__="..." matcher, if any.
func nameMatcher(matchers string) string {
	for _, m := range strings.Split(matchers, ",") {
		k, v, ok := strings.Cut(m, "=")
		if ok && strings.TrimSpace(k) == "__name__" {
			return strings.Trim(strings.TrimSpace(v), "\"'`")
		}
	}
	return ""
}

func skipString(rs []rune, i int) int {
	q := rs[i]
	for i++; i < len(rs); i++ {
		if rs[i] == '\\' && q != '`' {
			i++
			continue
		}
		if rs[i] == q {
			return i + 1
		}
	}
	return i
}

// closing returns the index of the bracket closing the one at i (or the
// end), skipping strings and nested brackets.
func closing(rs []rune, i int, open, close rune) int {
	depth := 0
	for ; i < len(rs); i++ {
		switch rs[i] {
		case '"', '\'', '`':
			i = skipString(rs, i) - 1
		case open:
			depth++
		case close:
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return len(rs)
}

func isIdentStart(c rune) bool { return c == '_' || c == ':' || unicode.IsLetter(c) }
func isIdent(c rune) bool      { return isIdentStart(c) || unicode.IsDigit(c) }
