package herald_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDesignRulesResolve checks that every rule code the repository cites
// (Q1, M8, C3 …) is defined in DESIGN.md, so a reader can look each one up.
func TestDesignRulesResolve(t *testing.T) {
	design, err := os.ReadFile("DESIGN.md")
	require.NoError(t, err)
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`\*\*([A-Z][0-9]{1,2})(?:–([A-Z])?([0-9]{1,2}))?\*\*`).FindAllStringSubmatch(string(design), -1) {
		defined[m[1]] = true
		if m[3] != "" { // a range such as J2–J5
			lo, _ := strconv.Atoi(m[1][1:])
			hi, _ := strconv.Atoi(m[3])
			for i := lo; i <= hi; i++ {
				defined[m[1][:1]+strconv.Itoa(i)] = true
			}
		}
	}
	require.NotEmpty(t, defined)

	cite := regexp.MustCompile(`\b([TQMCBSPXDLHJGWNOAEI][0-9]{1,2})\b`)
	missing := map[string][]string{}
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(text), "\n") {
			if !strings.Contains(line, "//") && strings.HasSuffix(path, ".go") {
				continue // codes are cited in comments; code has other tokens of this shape
			}
			for _, m := range cite.FindAllStringSubmatch(line, -1) {
				if !defined[m[1]] {
					missing[m[1]] = append(missing[m[1]], path)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	var report []string
	for code, paths := range missing {
		report = append(report, code+" in "+strings.Join(paths[:min(len(paths), 3)], ", "))
	}
	sort.Strings(report)
	require.Empty(t, report, "rule codes cited but not defined in DESIGN.md")
}
