module github.com/gomp-dev/gomp

go 1.26
