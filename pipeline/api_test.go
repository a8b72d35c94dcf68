package pipeline_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"gotest.tools/v3/assert"
)

// No exported package-level variable of the public packages holds a slice
// or a map: a caller that changes one would change every pipeline of the
// process (functions return copies instead).
func TestNoExportedMutableVariables(t *testing.T) {
	var found []string
	for _, dir := range []string{".", "../fn", "../postrender", "../internal/ccpolicy"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		assert.NilError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			assert.NilError(t, err)
			found = append(found, mutableVars(f, file)...)
		}
	}
	assert.Assert(t, len(found) == 0, "exported variables holding a slice or map: %v", found)
}

func mutableVars(name string, file *ast.File) []string {
	var out []string
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.VAR {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			for i, n := range v.Names {
				if !n.IsExported() {
					continue
				}
				if isSliceOrMap(v.Type) || i < len(v.Values) && isSliceOrMapLit(v.Values[i]) {
					out = append(out, name+": "+n.Name)
				}
			}
		}
	}
	return out
}

func isSliceOrMap(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.ArrayType:
		return t.Len == nil
	case *ast.MapType:
		return true
	}
	return false
}

func isSliceOrMapLit(e ast.Expr) bool {
	c, ok := e.(*ast.CompositeLit)
	return ok && isSliceOrMap(c.Type)
}
