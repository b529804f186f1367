def run_deposits(account, amounts, workers):
    # threading.Thread objects instead of an executor: each keeps its own errors, all are joined,
    # then the first error is raised.
    lock = threading.Lock()
    errors = []

    def deposit_share(share):
        for amount in share:
            try:
                approve(amount)
            except Declined as error:
                errors.append(error)
                continue
            with lock:
                account.balance = account.balance + amount

    threads = [threading.Thread(target=deposit_share, args=(amounts[i::workers],)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
