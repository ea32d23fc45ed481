// Package layout holds the tests about the repository as a whole: the
// README's package map names every package of the module, and only those.
// It has no code of its own.
package layout
