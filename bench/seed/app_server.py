# The seed: the course project's file service as it was (Python, Bottle, its default single-threaded
# wsgiref server), with the same two routes and the same curl API, so bench/files.ts can measure this
# project against where it started. Like the original it neither fsyncs nor checks names.
#   python3 app_server.py <port> <dir> [server]      (Debian's python3-bottle)
# server: Bottle's server adapter, `wsgiref` (Bottle's default, one request at a time: the seed as
# shipped) unless given; bench/files.ts also runs it on `waitress` (Debian's python3-waitress, Bottle's
# own adapter, waitress' default of 4 threads), the threaded server a user of Bottle would pick.
import os
import sys

from bottle import request, route, run, static_file

FILES = sys.argv[2]
SERVER = sys.argv[3] if len(sys.argv) > 3 else "wsgiref"


@route("/upload", method="POST")
def upload():
    upload = request.files.get("file")
    upload.save(os.path.join(FILES, upload.raw_filename), overwrite=True)
    return "OK"


@route("/download", method="POST")
def download():
    name = request.forms.get("name")
    return static_file(name, root=FILES, download=name)


run(host="127.0.0.1", port=int(sys.argv[1]), server=SERVER, quiet=True)
