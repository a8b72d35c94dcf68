package fn

// The input: stdin, files and folders, read as kubectl reads them.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// newInputPolicyCommand is `cocofy policy`, reading files like the others.
func newInputPolicyCommand() *cobra.Command {
	in := &inputOptions{}
	cmd := newPolicyCommand()
	cmd.Use = "policy [-f FILE]... [FILE]..."
	cmd.Args = cobra.ArbitraryArgs
	cmd.PreRunE = func(cmd *cobra.Command, args []string) error {
		data, err := in.read(cmd, args)
		if err != nil {
			return err
		}
		cmd.SetIn(bytes.NewReader(data))
		return nil
	}
	in.addFlags(cmd)
	return cmd
}

// inputOptions are where resources are read from: -f and arguments
// (files, folders of YAML, - for stdin), else stdin.
type inputOptions struct {
	filenames []string
	recursive bool
}

func (in *inputOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&in.filenames, "filename", "f", nil, "file or folder (its *.yaml, *.yml and *.json files) to read, - for stdin; repeatable, also as arguments; default stdin")
	cmd.Flags().BoolVarP(&in.recursive, "recursive", "R", false, "read the folders given with -f or as arguments recursively")
}

// read returns the input: stdin when no file is named, else the named
// files and folders in order, one YAML stream (a single file is read as
// it is, so it may be a ResourceList).
func (in *inputOptions) read(cmd *cobra.Command, args []string) ([]byte, error) {
	names := append(slices.Clone(in.filenames), args...)
	if len(names) == 0 {
		return readStdin(cmd)
	}
	var (
		b     bytes.Buffer
		stdin bool
	)
	add := func(data []byte) {
		if b.Len() > 0 {
			if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
				b.WriteByte('\n')
			}
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	if len(names) == 1 && names[0] != "-" {
		// One file is the input as it is, not a copy of it.
		files, err := in.files(names[0])
		if err == nil && len(files) == 1 {
			data, err := os.ReadFile(files[0])
			if err != nil {
				return nil, readError(files[0], err)
			}
			return data, nil
		}
	}
	for i, name := range names {
		if name == "-" {
			if stdin {
				return nil, errors.New("stdin (-) can be read only once")
			}
			stdin = true
			data, err := readStdin(cmd)
			if err != nil {
				return nil, err
			}
			add(data)
			continue
		}
		files, err := in.files(name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && i >= len(in.filenames) {
				if s := cmd.SuggestionsFor(name); len(s) > 0 {
					return nil, fmt.Errorf("%w (to run a command: cocofy %s)", err, s[0])
				}
			}
			return nil, err
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, readError(f, err)
			}
			add(data)
		}
	}
	return b.Bytes(), nil
}

// readError is "reading NAME: what went wrong", without the system
// call's name.
func readError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("reading %s: %w", pe.Path, pe.Err)
	}
	return fmt.Errorf("reading %s: %w", name, err)
}

func readStdin(cmd *cobra.Command) ([]byte, error) {
	data, err := readAll(cmd.InOrStdin())
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	return data, nil
}

// readAll is io.ReadAll, into a buffer of the file's size when r is a
// regular file (stdin redirected from one): io.ReadAll's growing buffer
// holds up to twice the input at its end.
func readAll(r io.Reader) ([]byte, error) {
	f, ok := r.(*os.File)
	if !ok {
		return io.ReadAll(r)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() <= 0 || st.Size() > 1<<40 {
		return io.ReadAll(r)
	}
	var b bytes.Buffer
	b.Grow(int(st.Size()) + bytes.MinRead) // the last read sees the end
	_, err = b.ReadFrom(f)
	return b.Bytes(), err
}

// files is name when it is a file, else the YAML and JSON files in the
// folder name (sorted; in its subfolders too with -R).
func (in *inputOptions) files(name string) ([]string, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, readError(name, err)
	}
	if !st.IsDir() {
		return []string{name}, nil
	}
	var files []string
	err = filepath.WalkDir(name, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != name && !in.recursive {
				return filepath.SkipDir
			}
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, readError(name, err)
	}
	if len(files) == 0 {
		hint := ""
		if !in.recursive {
			hint = " (-R reads its subfolders)"
		}
		return nil, fmt.Errorf("reading %s: the folder has no .yaml, .yml or .json file%s", name, hint)
	}
	return files, nil
}
