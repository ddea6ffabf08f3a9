package dataset

import (
	"os"
	"path/filepath"
)

// EnvDataDir names the environment variable that points at the data
// directory.
const EnvDataDir = "NMSIM_DATA"

// ResolveDir returns the data directory and how it was chosen, in the order
// the package documentation gives. When nothing is found dir is "" and how
// says what was tried.
func ResolveDir(flag string) (dir, how string) {
	if flag != "" {
		return flag, "flag"
	}
	if dir, how = FullDir(); dir != "" {
		return dir, how
	}
	if isDir("data") {
		return "data", "./data"
	}
	// The slice committed in the repository, from anywhere inside it.
	if root := workingModuleRoot(); root != "" && isDir(filepath.Join(root, "data")) {
		return filepath.Join(root, "data"), "data/ in the module root " + root
	}
	return "", "no flag, $" + EnvDataDir + " unset, no ../shared/data beside the module root, no ./data"
}

// FullDir returns the directory of the full data sets and how it was
// chosen: $NMSIM_DATA when non-empty, else ../shared/data beside the module
// root when it exists (steps 2 and 3 of the package documentation). It
// never returns the committed slice; when there is no such directory dir
// is "" and how says what was tried.
func FullDir() (dir, how string) {
	if env := os.Getenv(EnvDataDir); env != "" {
		return env, "$" + EnvDataDir
	}
	if root := workingModuleRoot(); root != "" {
		shared := filepath.Join(filepath.Dir(root), "shared", "data")
		if isDir(shared) {
			return shared, "../shared/data beside the module root " + root
		}
	}
	return "", "$" + EnvDataDir + " unset and no ../shared/data beside the module root"
}

// workingModuleRoot is the module root above the working directory, or "".
func workingModuleRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	return moduleRoot(wd)
}

// moduleRoot walks up from dir to the first directory holding go.mod, or
// returns "" when there is none.
func moduleRoot(dir string) string {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
