// The small static programs of the images built here without a container engine (build-go.sh).
module edge.local/images

go 1.26.0
