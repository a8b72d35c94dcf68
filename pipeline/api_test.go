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

// The public packages' API is made of public types: no exported function,
// method, type or field names a type of an internal package, so that an
// embedder can name every type it needs.
func TestAPINamesNoInternalPackage(t *testing.T) {
	var found []string
	for _, dir := range []string{".", "../fn", "../postrender", "../image", "../cache"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		assert.NilError(t, err)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
			assert.NilError(t, err)
			found = append(found, internalUses(f, file)...)
		}
	}
	assert.Assert(t, len(found) == 0, "exported API naming internal types: %v", found)
}

// internalUses lists the internal types named by file's exported
// declarations.
func internalUses(name string, file *ast.File) []string {
	internal := map[string]bool{}
	for _, im := range file.Imports {
		path := strings.Trim(im.Path.Value, `"`)
		local := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		internal[local] = strings.Contains(path, "/internal/")
	}
	var out []string
	check := func(what string, n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && internal[id.Name] {
					out = append(out, name+": "+what+": "+id.Name+"."+sel.Sel.Name)
				}
			}
			return true
		})
	}
	for _, d := range file.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Name.IsExported() && (d.Recv == nil || exportedRecv(d.Recv)) {
				check(d.Name.Name, d.Type)
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						check(s.Name.Name, exportedParts(s.Type))
					}
				case *ast.ValueSpec:
					if len(s.Names) > 0 && s.Names[0].IsExported() && s.Type != nil {
						check(s.Names[0].Name, s.Type)
					}
				}
			}
		}
	}
	return out
}

// exportedRecv reports a method of an exported type.
func exportedRecv(recv *ast.FieldList) bool {
	t := recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// exportedParts drops a struct's unexported fields.
func exportedParts(e ast.Expr) ast.Node {
	st, ok := e.(*ast.StructType)
	if !ok {
		return e
	}
	var fields []*ast.Field
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 || f.Names[0].IsExported() {
			fields = append(fields, f)
		}
	}
	return &ast.FieldList{List: fields}
}
