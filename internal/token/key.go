package token

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/BurntSushi/toml"
)

// SecretSize is the length of a key's secret: 256 bits, the HMAC-SHA256
// block-size guidance of RFC 2104 for a key that is as strong as the hash.
const SecretSize = 32

// Key is one key file: the secret of one person or device for one door,
// and what its client needs to send tokens (the same file on both ends).
type Key struct {
	Door    string        `toml:"door"`
	Name    string        `toml:"name"`
	Secret  []byte        `toml:"-"`
	Port    uint16        `toml:"port"`
	Slot    time.Duration `toml:"-"`
	PerSlot int           `toml:"per_slot"`
	Skew    time.Duration `toml:"-"`
}

// Params returns what deriving the key's tokens needs.
func (k *Key) Params() Params { return Params{Door: k.Door, Slot: k.Slot, PerSlot: k.PerSlot} }

// keyFile is the key file as written: TOML with durations as strings.
type keyFile struct {
	Door    string `toml:"door"`
	Name    string `toml:"name"`
	Secret  string `toml:"secret"`
	Port    int    `toml:"port"`
	Slot    string `toml:"slot"`
	PerSlot int    `toml:"per_slot"`
	Skew    string `toml:"skew"`
}

// NameRE is what a key's name may look like: it names a set in the kernel
// and appears in the monitor's events.
var NameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// MaxNameLen is the longest key name.
const MaxNameLen = 24

// NewSecret returns a fresh random secret.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("new secret: %w", err)
	}
	return b, nil
}

// ErrOpenKey is wrapped by ReadKey when group or others may read the file.
var ErrOpenKey = errors.New("key file is readable by others")

// ReadKey reads a key file. Like ssh with a private key, it refuses a file
// that group or others may read or write (wrapping ErrOpenKey), and a file
// another user owns.
func ReadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key %q has mode %#o, so others may read it; run chmod 600 %q: %w", path, perm, path, ErrOpenKey)
	}
	if err := checkOwner(fi); err != nil {
		return nil, fmt.Errorf("key %q: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(f); err != nil {
		return nil, fmt.Errorf("read key %q: %w", path, err)
	}
	k, err := ParseKey(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", path, err)
	}
	return k, nil
}

// ParseKey parses the text of a key file; it fails on a missing or
// malformed field.
func ParseKey(data []byte) (*Key, error) {
	var kf keyFile
	md, err := toml.Decode(string(data), &kf)
	if err != nil {
		return nil, fmt.Errorf("not a knockc key file: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("unknown field %q", u[0].String())
	}
	k := &Key{Door: kf.Door, Name: kf.Name, PerSlot: kf.PerSlot}
	if k.Secret, err = base64.StdEncoding.DecodeString(kf.Secret); err != nil || len(k.Secret) != SecretSize {
		return nil, fmt.Errorf("secret must be %d bytes in base64", SecretSize)
	}
	if !NameRE.MatchString(k.Door) {
		return nil, fmt.Errorf("door %q is not a door name", k.Door)
	}
	if !NameRE.MatchString(k.Name) || len(k.Name) > MaxNameLen {
		return nil, fmt.Errorf("name %q is not a key name (lower-case letters, digits and _, at most %d)", k.Name, MaxNameLen)
	}
	if kf.Port < 1 || kf.Port > 65535 {
		return nil, fmt.Errorf("port %d is not 1 to 65535", kf.Port)
	}
	k.Port = uint16(kf.Port)
	if k.Slot, err = time.ParseDuration(kf.Slot); err != nil || k.Slot < time.Second || k.Slot%time.Millisecond != 0 {
		return nil, fmt.Errorf("slot %q must be a duration of at least 1s", kf.Slot)
	}
	if k.Skew, err = time.ParseDuration(kf.Skew); err != nil || k.Skew < 0 {
		return nil, fmt.Errorf("skew %q must be a duration", kf.Skew)
	}
	if k.PerSlot < 1 || k.PerSlot > MaxPerSlot {
		return nil, fmt.Errorf("per_slot %d is not 1 to %d", k.PerSlot, MaxPerSlot)
	}
	return k, nil
}

// MaxPerSlot bounds tokens_per_slot.
const MaxPerSlot = 256

// Format returns the text of k's key file.
func (k *Key) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# knockc token key %q of door %q. Keep it secret: mode 0600 on both ends.\n", k.Name, k.Door)
	fmt.Fprintf(&b, "# Client: knockc knock --key THIS_FILE HOST %s\n", k.Door)
	kf := keyFile{
		Door: k.Door, Name: k.Name, Secret: base64.StdEncoding.EncodeToString(k.Secret),
		Port: int(k.Port), Slot: k.Slot.String(), PerSlot: k.PerSlot, Skew: k.Skew.String(),
	}
	if err := toml.NewEncoder(&b).Encode(kf); err != nil {
		panic(err) // a flat struct of strings and ints always encodes
	}
	return b.Bytes()
}

// WriteKey writes k to a new file at path with mode 0600; it fails when
// the file exists.
func WriteKey(path string, k *Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := f.Write(k.Format()); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write key %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write key %q: %w", path, err)
	}
	return nil
}
