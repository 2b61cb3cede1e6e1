package seal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/grantd/grantd/internal/seal"
)

func TestCreateKeyWritesAPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	k, err := seal.CreateKey(path, bytes.NewReader(bytes.Repeat([]byte{7}, seal.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != seal.KeySize {
		t.Errorf("key file mode %04o size %d, want 0600 and %d", fi.Mode().Perm(), fi.Size(), seal.KeySize)
	}
	loaded, err := seal.LoadKey(path)
	if err != nil || loaded.ID() != k.ID() {
		t.Errorf("LoadKey = %v, %v; want %v", loaded, err, k)
	}
	// Only the key file is left in the folder: the temporary file is gone.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1", len(entries))
	}
}

func TestCreateKeyNeverReplacesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	old := bytes.Repeat([]byte{1}, seal.KeySize)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := seal.CreateKey(path, rand.Reader)
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateKey over a file: %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
		t.Error("CreateKey changed an existing key file")
	}
}

func TestCreateKeyReportsAShortRandomRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	if _, err := seal.CreateKey(path, bytes.NewReader(make([]byte, 10))); err == nil {
		t.Error("CreateKey accepted 10 random bytes")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed CreateKey left %s: %v", path, err)
	}
}

// TestLoadKeyRefuses: decision — a key file that group or others may read
// or write is refused, not warned about (as ssh does with a private key).
func TestLoadKeyRefuses(t *testing.T) {
	dir := t.TempDir()
	good := bytes.Repeat([]byte{3}, seal.KeySize)
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		want    string
	}{
		{"group readable", good, 0o640, "chmod 600"},
		{"world readable", good, 0o604, "chmod 600"},
		{"group writable", good, 0o620, "chmod 600"},
		{"mode 0644 (a default Kubernetes secret)", good, 0o644, "chmod 600"},
		{"empty", nil, 0o600, "holds 0 bytes"},
		{"short", good[:31], 0o600, "holds 31 bytes"},
		{"trailing newline", append(append([]byte{}, good...), '\n'), 0o600, "holds 33 bytes"},
		{"hex text", []byte(strings.Repeat("ab", 32)), 0o600, "holds 64 bytes"},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, string(rune('a'+i)))
		if err := os.WriteFile(path, tt.content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		_, err := seal.LoadKey(path)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: LoadKey = %v, want an error naming %s and %q", tt.name, err, path, tt.want)
		}
	}
	if _, err := seal.LoadKey(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("LoadKey(folder) = %v", err)
	}
	if _, err := seal.LoadKey(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadKey(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadKeyFollowsASymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "data", "key")
	os.Mkdir(filepath.Dir(target), 0o700)
	k, err := seal.CreateKey(target, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "key")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if got, err := seal.LoadKey(link); err != nil || got.ID() != k.ID() {
		t.Errorf("LoadKey(symlink) = %v, %v", got, err)
	}
}

func TestLoadOrCreateKeyCreatesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	const n = 16
	var wg sync.WaitGroup
	ids := make([]string, n)
	created := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			var k seal.Key
			k, created[i], errs[i] = seal.LoadOrCreateKey(path, rand.Reader)
			ids[i] = k.ID()
		})
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("LoadOrCreateKey: %v", errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("caller %d got key %s, caller 0 got %s", i, ids[i], ids[0])
		}
		if created[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Errorf("%d callers created the key, want 1", creators)
	}
	if k, created, err := seal.LoadOrCreateKey(path, rand.Reader); err != nil || created || k.ID() != ids[0] {
		t.Errorf("later LoadOrCreateKey = %v, %v, %v", k, created, err)
	}
}

func TestLoadOrCreateKeyDoesNotHideABadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "secret.key")
	os.WriteFile(path, []byte("short"), 0o600)
	if _, _, err := seal.LoadOrCreateKey(path, rand.Reader); err == nil {
		t.Error("LoadOrCreateKey accepted (or replaced) a 5-byte key file")
	}
	if got, _ := os.ReadFile(path); string(got) != "short" {
		t.Error("LoadOrCreateKey replaced a bad key file")
	}
}
