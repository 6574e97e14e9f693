# The seed: the course project's file service as it was (Python, Bottle, its default single-threaded
# wsgiref server), with the same two routes and the same curl API, so bench/files.ts can measure this
# project against where it started. Like the original it neither fsyncs nor checks names.
#   python3 app_server.py <port> <dir>      (Debian's python3-bottle)
import os
import sys

from bottle import request, route, run, static_file

FILES = sys.argv[2]


@route("/upload", method="POST")
def upload():
    upload = request.files.get("file")
    upload.save(os.path.join(FILES, upload.raw_filename), overwrite=True)
    return "OK"


@route("/download", method="POST")
def download():
    name = request.forms.get("name")
    return static_file(name, root=FILES, download=name)


run(host="127.0.0.1", port=int(sys.argv[1]), quiet=True)
